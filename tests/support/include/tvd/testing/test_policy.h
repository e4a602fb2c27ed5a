// A small valid TVD policy for the tests and benchmarks that run a master
// (kept in namespace tvd::master, where its first users live).
#pragma once

#include <string>
#include <vector>

#include "tvd/sha256.h"

namespace tvd::master {

// Policy with PCR 16 (a resettable debug PCR, all zeros after start-up)
// required to hold one of `pcr16`.
inline std::string Policy(const std::string& name, int id,
                          const std::vector<std::string>& hosts,
                          const std::vector<Sha256Digest>& pcr16,
                          int interval = 1) {
  std::string x = "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"" + name +
                  "\" id=\"" + std::to_string(id) + "\">\n";
  x += "  <owner subject=\"CN=" + name + "-tenant,O=T\"/>\n";
  x += "  <networks><network name=\"" + name + "-data\" kind=\"data\" vni=\"" +
       std::to_string(1000 + id) + "\"/></networks>\n";
  x += "  <transport><ipsec ike=\"aes256gcm16-prfsha256-ecp256\" "
       "esp=\"aes256gcm16-ecp256\"/></transport>\n";
  x += "  <host-requirements allow-no-tpm=\"false\" attestation-interval=\"" +
       std::to_string(interval) + "\">\n    <pcr bank=\"sha256\" index=\"16\">";
  for (const auto& d : pcr16) x += "<known-good value=\"" + ToHex(d) + "\"/>";
  x += "</pcr>\n  </host-requirements>\n  <authorized-hosts>\n";
  for (const auto& h : hosts)
    x += "    <host subject=\"CN=" + h + ",O=VDC\"/>\n";
  x += "  </authorized-hosts>\n";
  x += "  <vms><vm name=\"web1\"><measure type=\"config\" sha256=\"" +
       ToHex(Sha256("cfg")) +
       "\"/></vm><vm name=\"web2\"><measure "
       "type=\"config\" sha256=\"" +
       ToHex(Sha256("cfg2")) + "\"/></vm></vms>\n";
  x += "  <key-release><disk-key vm=\"web1\"/><vtpm vm=\"web1\"/>"
       "</key-release>\n";
  x += "</tvd-policy>\n";
  return x;
}

}  // namespace tvd::master

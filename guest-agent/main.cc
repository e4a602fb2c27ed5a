// tvd-guest-attest: the guest's vTPM quote tool and agent (docs/vtpm.md).
//
//   tvd-guest-attest [--tpm SPEC] ak                 AK public (hex)
//   tvd-guest-attest [--tpm SPEC] extend PCR HEX     extend PCR (SHA-256)
//   tvd-guest-attest [--tpm SPEC] read PCRS          "N=hex" per PCR
//   tvd-guest-attest [--tpm SPEC] quote NONCE PCRS   one answer line
//   tvd-guest-attest [--tpm SPEC] serve PORT         the agent on PORT
// SPEC: /dev/tpmrm0 (default), /dev/tpm0, tcp:ADDRESS:PORT (swtpm).
// PCRS: "N,N,..." ascending. Exit 0 on success, 1 on failure (reason on
// stderr), 2 on a usage error.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tvd/attest/guest_quote.h"
#include "tvd/guest_agent/agent.h"
#include "tvd/guest_agent/vtpm_client.h"
#include "tvd/hex.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int Usage() {
  std::cerr << "usage: tvd-guest-attest [--tpm SPEC] ak | extend PCR HEX | "
               "read PCRS | quote NONCE PCRS | serve PORT\n";
  return 2;
}

int Fail(const tvd::Status& s) {
  std::cerr << "tvd-guest-attest: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tvd;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string spec = "/dev/tpmrm0";
  if (args.size() >= 2 && args[0] == "--tpm") {
    spec = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) return Usage();
  const std::string& cmd = args[0];
  if (cmd == "serve") {
    if (args.size() != 2) return Usage();
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    Status s = guest_agent::ServeQuotes(args[1], spec, g_stop);
    return s.ok() ? 0 : Fail(s);
  }
  auto tpm = guest_agent::OpenTpm(spec);
  if (!tpm.ok()) return Fail(tpm.status());
  guest_agent::VtpmClient client(std::move(*tpm));
  if (cmd == "ak" && args.size() == 1) {
    auto ak = client.AkPublic();
    if (!ak.ok()) return Fail(ak.status());
    std::cout << ToHex(*ak) << "\n";
    return 0;
  }
  if (cmd == "extend" && args.size() == 3) {
    auto pcr = attest::ParsePcrList(args[1]);
    auto digest = LowerHexToBytes(args[2]);
    if (!pcr.ok()) return Fail(pcr.status());
    if (pcr->size() != 1) return Usage();
    if (!digest.ok() || digest->size() != 32) {
      return Fail(InvalidArgument("digest must be 64 lower-case hex digits"));
    }
    attest::tpmwire::PcrDigest d{};
    std::copy(digest->begin(), digest->end(), d.begin());
    Status s = client.Extend((*pcr)[0], d);
    return s.ok() ? 0 : Fail(s);
  }
  if (cmd == "read" && args.size() == 2) {
    auto pcrs = attest::ParsePcrList(args[1]);
    if (!pcrs.ok()) return Fail(pcrs.status());
    auto values = client.ReadPcrs(*pcrs, nullptr);
    if (!values.ok()) return Fail(values.status());
    for (const auto& v : *values) {
      std::cout << v.index << "=" << ToHex(v.value) << "\n";
    }
    return 0;
  }
  if (cmd == "quote" && args.size() == 3) {
    auto nonce = LowerHexToBytes(args[1]);
    auto pcrs = attest::ParsePcrList(args[2]);
    if (!nonce.ok()) return Fail(nonce.status());
    if (!pcrs.ok()) return Fail(pcrs.status());
    auto answer = client.Quote(*nonce, *pcrs);
    if (!answer.ok()) return Fail(answer.status());
    auto line = attest::FormatGuestQuoteAnswer(*answer);
    if (!line.ok()) return Fail(line.status());
    std::cout << *line;
    return 0;
  }
  return Usage();
}

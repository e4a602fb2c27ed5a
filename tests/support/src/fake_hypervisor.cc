#include "tvd/testing/fake_hypervisor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <tinyxml2.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <string_view>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/values.h"
#include "tvd/proxy/luks_qcow2.h"
#include "tvd/proxy/vm_admission.h"

namespace tvd::proxy::testing {

namespace {

Status Refused(const std::string& why) {
  return FailedPrecondition("libvirt refused the domain: " + why);
}

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

struct ParsedDomain {
  std::string name;
  std::string uuid;  // lower case; empty when the XML has none
  std::string owner;
};

// What libvirt reads of a domain definition that the proxy relies on; the
// rest of the XML is libvirt's business (and the relay's).
StatusOr<ParsedDomain> ParseDomain(const std::string& xml) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return Refused(std::string("XML error: ") + doc.ErrorStr());
  }
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (root == nullptr || std::string_view(root->Name()) != "domain") {
    return Refused("expected a <domain> root element");
  }
  if (root->Attribute("type") == nullptr) {
    return Refused("missing domain type attribute");
  }
  ParsedDomain p;
  const tinyxml2::XMLElement* name = root->FirstChildElement("name");
  if (name == nullptr || name->GetText() == nullptr) {
    return Refused("missing domain name");
  }
  p.name = name->GetText();
  if (p.name.find('/') != std::string::npos) {
    return Refused("name '" + p.name + "' cannot contain '/'");
  }
  if (const tinyxml2::XMLElement* uuid = root->FirstChildElement("uuid")) {
    p.uuid = Lower(uuid->GetText() != nullptr ? uuid->GetText() : "");
    if (!policy::IsUuid(p.uuid)) return Refused("malformed uuid element");
  }
  // The owner is the TVD metadata's, found by its namespace (not by a
  // prefix), as virDomainGetMetadata finds it.
  if (const tinyxml2::XMLElement* metadata =
          root->FirstChildElement("metadata")) {
    for (const tinyxml2::XMLElement* e = metadata->FirstChildElement();
         e != nullptr; e = e->NextSiblingElement()) {
      std::string_view n = e->Name();
      std::size_t colon = n.find(':');
      std::string xmlns = colon == std::string_view::npos
                              ? std::string("xmlns")
                              : "xmlns:" + std::string(n.substr(0, colon));
      const char* ns = e->Attribute(xmlns.c_str());
      if (ns == nullptr || std::string_view(ns) != policy::kVmNamespace) {
        continue;
      }
      const char* owner = e->Attribute("owner");
      p.owner = owner != nullptr ? owner : "";
    }
  }
  return p;
}

Status NoDomain(const std::string& name) {
  return NotFound("no domain '" + name + "'");
}

}  // namespace

std::string FakeHypervisor::NextUuid() {
  std::string n = std::to_string(++counter);
  return "00000000-0000-4000-8000-" + std::string(12 - n.size(), '0') + n;
}

Status FakeHypervisor::Add(const std::string& xml, bool active,
                           bool persistent) {
  TVD_ASSIGN_OR_RETURN(ParsedDomain p, ParseDomain(xml));
  if (domains.contains(p.name)) {
    return AlreadyExists("domain '" + p.name + "' already exists");
  }
  for (const auto& [name, d] : domains) {
    if (!p.uuid.empty() && d.uuid == p.uuid) {
      return AlreadyExists("domain with UUID '" + p.uuid +
                           "' already exists as '" + name + "'");
    }
  }
  std::string uuid = p.uuid;
  while (uuid.empty()) {
    uuid = NextUuid();
    for (const auto& [name, d] : domains) {
      if (d.uuid == uuid) uuid.clear();
    }
  }
  domains[p.name] = {xml, uuid, active, p.owner, persistent};
  return Status::Ok();
}

Status FakeHypervisor::DefineAndStart(const std::string& domain_xml) {
  if (!start_error.ok()) return start_error;
  return Add(domain_xml, /*active=*/true, /*persistent=*/true);
}

Status FakeHypervisor::DefineOnly(const std::string& domain_xml) {
  return Add(domain_xml, /*active=*/false, /*persistent=*/true);
}

Status FakeHypervisor::CreateTransient(const std::string& domain_xml) {
  return Add(domain_xml, /*active=*/true, /*persistent=*/false);
}

Status FakeHypervisor::PowerOff(const std::string& name) {
  auto it = domains.find(name);
  if (it == domains.end()) return NoDomain(name);
  if (!it->second.active) {
    return FailedPrecondition("domain '" + name + "' is not running");
  }
  if (!it->second.persistent) {
    domains.erase(it);
  } else {
    it->second.active = false;
  }
  return Status::Ok();
}

Status FakeHypervisor::DestroyAndUndefine(const std::string& name) {
  if (domains.erase(name) == 0) return NoDomain(name);
  return Status::Ok();
}

StatusOr<attest::GuestQuoteAnswer> FakeHypervisor::AskGuestForQuote(
    const std::string& name, const attest::GuestQuoteRequest& request,
    std::chrono::milliseconds timeout) {
  auto it = domains.find(name);
  if (it == domains.end()) return NoDomain(name);
  if (!it->second.active) {
    return FailedPrecondition("domain '" + name + "' is not running");
  }
  auto channel = HasAttestChannel(it->second.xml);
  if (!channel.ok() || !*channel) {
    return NotFound("domain '" + name + "' has no attestation channel");
  }
  guest_requests.emplace_back(name, request);
  auto answer = guest_answers.find(name);
  if (answer == guest_answers.end()) {
    return Unavailable("guest agent did not answer within " +
                       std::to_string(timeout.count()) + " ms");
  }
  return answer->second;
}

StatusOr<std::string> FakeHypervisor::DomainXml(const std::string& name) {
  auto it = domains.find(name);
  if (it == domains.end()) return NoDomain(name);
  std::string xml = it->second.xml;
  tinyxml2::XMLDocument doc;
  doc.Parse(xml.data(), xml.size());
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (root != nullptr && root->FirstChildElement("uuid") == nullptr) {
    std::size_t end = xml.find("</name>");
    if (end != std::string::npos) {
      xml.insert(end + 7, "<uuid>" + it->second.uuid + "</uuid>");
    }
  }
  return xml;
}

StatusOr<std::vector<DomainSummary>> FakeHypervisor::ListDomains() {
  std::vector<DomainSummary> out;
  for (const auto& [name, d] : domains) {
    out.push_back({name, d.uuid, d.active, d.owner});
  }
  return out;
}

StatusOr<std::string> FakeHypervisor::DefineSecret(const std::string& usage,
                                                   const SecureBytes& value) {
  for (const auto& [uuid, s] : secrets) {
    if (s.usage == usage) {
      return AlreadyExists("a secret for '" + usage + "' already exists");
    }
  }
  std::string uuid = NextUuid();
  secrets[uuid] = {usage, std::vector<std::uint8_t>(
                              value.data(), value.data() + value.size())};
  return uuid;
}

StatusOr<std::string> FakeHypervisor::DefineVtpmSecret(
    const std::string& usage, const SecureBytes& value) {
  TVD_ASSIGN_OR_RETURN(std::string uuid, DefineSecret(usage, value));
  secrets[uuid].vtpm = true;
  return uuid;
}

Status FakeHypervisor::UndefineSecret(const std::string& uuid) {
  if (secrets.erase(uuid) == 0) return NotFound("no secret " + uuid);
  return Status::Ok();
}

Status FakeHypervisor::CreateEncryptedDisk(const std::string& path,
                                           std::uint64_t size_mib,
                                           const SecureBytes& passphrase) {
  if (!create_disk_error.ok()) return create_disk_error;
  // The same checks and claim as the real one; a byte stands in for the
  // qcow2 qemu-img would write.
  TVD_ASSIGN_OR_RETURN(int fd, ClaimNewDiskFile(path, passphrase));
  const char byte = '\0';
  bool written = ::write(fd, &byte, 1) == 1 && ::fchmod(fd, 0600) == 0;
  int err = errno;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return ErrnoError("creating encrypted disk " + path, err);
  }
  created_disks.push_back(
      {path, size_mib,
       std::vector<std::uint8_t>(passphrase.data(),
                                 passphrase.data() + passphrase.size())});
  return Status::Ok();
}

StatusOr<std::vector<std::string>> FakeHypervisor::ListSecrets(
    const std::string& usage_prefix) {
  std::vector<std::string> out;
  for (const auto& [uuid, s] : secrets) {
    if (s.usage.starts_with(usage_prefix)) out.push_back(uuid);
  }
  return out;
}

}  // namespace tvd::proxy::testing

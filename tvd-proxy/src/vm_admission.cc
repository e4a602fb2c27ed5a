#include "tvd/proxy/vm_admission.h"

#include <tinyxml2.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "tvd/attest/guest_quote.h"
#include "tvd/policy/vm_policy_check.h"

namespace tvd::proxy {

namespace {

using policy::MeasureType;

std::string Describe(const policy::Measurement& m) {
  std::string s(policy::MeasureTypeName(m.type));
  if (!m.target.empty()) s += " '" + m.target + "'";
  return s;
}

// The file a measure covers; empty for the config measure.
StatusOr<std::string> PathOf(const policy::VmConfig& vm,
                             const policy::Measurement& m) {
  auto missing = [&](const std::string& what) {
    return PermissionDenied("VM '" + vm.name + "': the policy measures " +
                            Describe(m) + " but the VM has no " + what);
  };
  switch (m.type) {
    case MeasureType::kConfig:
      return std::string();
    case MeasureType::kKernel:
      if (!vm.kernel_path) return missing("<os><kernel>");
      return *vm.kernel_path;
    case MeasureType::kInitrd:
      if (!vm.initrd_path) return missing("<os><initrd>");
      return *vm.initrd_path;
    case MeasureType::kDisk: {
      const policy::DomainDisk* d = vm.FindDisk(m.target);
      if (d == nullptr || !d->source_file) {
        return missing("disk '" + m.target + "' with a <source file>");
      }
      return *d->source_file;
    }
  }
  return Internal("unknown measure type");
}

StatusOr<tinyxml2::XMLElement*> ParseDomain(tinyxml2::XMLDocument& doc,
                                            const std::string& xml) {
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return InvalidArgument(std::string("domain XML: ") + doc.ErrorStr());
  }
  tinyxml2::XMLElement* root = doc.RootElement();
  if (root == nullptr || std::string_view(root->Name()) != "domain") {
    return InvalidArgument("domain XML: root element is not <domain>");
  }
  return root;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

Status CheckVnetsInOwnTvd(const policy::VmConfig& vm,
                          const policy::TvdPolicy& policy) {
  for (const policy::VnetBinding& b : vm.tvd.vnets) {
    if (!b.network || policy.FindNetwork(*b.network) != nullptr) continue;
    std::string peers;
    for (const policy::GatewayRule& g : policy.gateways) {
      if (g.vm != vm.name) continue;
      peers += (peers.empty() ? "TVD '" : ", TVD '") + g.peer + "'";
    }
    const std::string where = "VM '" + vm.name + "': vnet '" + b.target +
                              "' is bound to network '" + *b.network + "'";
    if (peers.empty()) {
      return PermissionDenied(where + ", which is not a network of TVD '" +
                              policy.name + "', and TVD '" + policy.name +
                              "''s policy allows VM '" + vm.name +
                              "' no gateway to another TVD");
    }
    return PermissionDenied(
        where + " outside TVD '" + policy.name + "'; the policy of TVD '" +
        policy.name + "' lets VM '" + vm.name + "' be a gateway to " + peers +
        ", but gateway VMs are not supported yet: a proxy cannot check the "
        "other TVD's policy nor plug into its networks (attach the VM with "
        "vnets on TVD '" +
        policy.name + "''s networks only)");
  }
  return Status::Ok();
}

Status AdmitVm(const policy::VmConfig& vm, const policy::TvdPolicy& policy,
               MeasurementCache& cache) {
  TVD_RETURN_IF_ERROR(policy::CheckVmAgainstPolicies(vm, policy));
  const policy::VmKnownGood* known = policy.FindVm(vm.name);
  if (known == nullptr) {
    return PermissionDenied("VM '" + vm.name + "' is not listed in TVD '" +
                            policy.name + "'");
  }
  for (const policy::Measurement& m : known->measures) {
    if (!m.sha256) {
      return PermissionDenied("TVD '" + policy.name + "' has no known-good " +
                              Describe(m) + " for VM '" + vm.name + "'");
    }
    TVD_ASSIGN_OR_RETURN(std::string path, PathOf(vm, m));
    Sha256Digest actual;
    if (m.type == MeasureType::kConfig) {
      actual = vm.ConfigDigest();
    } else {
      auto measured = cache.Measure(path);
      if (!measured.ok()) {
        return measured.status().WithContext("VM '" + vm.name +
                                             "': measuring " + Describe(m));
      }
      actual = *measured;
    }
    if (actual != *m.sha256) {
      std::string where =
          m.type == MeasureType::kConfig ? "canonical config" : path;
      return PermissionDenied("VM '" + vm.name + "': measured " + Describe(m) +
                              " (" + where + ") has sha256 " + ToHex(actual) +
                              " but TVD '" + policy.name + "' expects " +
                              ToHex(*m.sha256));
    }
  }
  return Status::Ok();
}

StatusOr<std::map<std::string, std::string>> InterfaceMacs(
    const std::string& domain_xml) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  std::map<std::string, std::string> out;
  tinyxml2::XMLElement* devices = root->FirstChildElement("devices");
  if (devices == nullptr) return out;
  for (auto* i = devices->FirstChildElement("interface"); i != nullptr;
       i = i->NextSiblingElement("interface")) {
    auto* target = i->FirstChildElement("target");
    auto* mac = i->FirstChildElement("mac");
    if (target == nullptr || target->Attribute("dev") == nullptr) continue;
    out[target->Attribute("dev")] =
        (mac != nullptr && mac->Attribute("address") != nullptr)
            ? mac->Attribute("address")
            : "";
  }
  return out;
}

StatusOr<std::string> WithDiskSecrets(
    const std::string& domain_xml,
    const std::map<std::string, std::string>& secret_by_disk) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  tinyxml2::XMLElement* devices = root->FirstChildElement("devices");
  for (const auto& [target, uuid] : secret_by_disk) {
    tinyxml2::XMLElement* source = nullptr;
    for (auto* d = devices ? devices->FirstChildElement("disk") : nullptr;
         d != nullptr; d = d->NextSiblingElement("disk")) {
      auto* t = d->FirstChildElement("target");
      if (t != nullptr && t->Attribute("dev") != nullptr &&
          target == t->Attribute("dev")) {
        source = d->FirstChildElement("source");
      }
    }
    if (source == nullptr) {
      return NotFound("domain XML: no disk '" + target + "' with a <source>");
    }
    while (auto* old = source->FirstChildElement("encryption")) {
      source->DeleteChild(old);
    }
    auto* enc = doc.NewElement("encryption");
    enc->SetAttribute("format", "luks");
    auto* secret = doc.NewElement("secret");
    secret->SetAttribute("type", "passphrase");
    secret->SetAttribute("uuid", uuid.c_str());
    enc->InsertEndChild(secret);
    source->InsertEndChild(enc);
  }
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return std::string(printer.CStr());
}

StatusOr<bool> HasTpmDevice(const std::string& domain_xml) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  for (auto* devices = root->FirstChildElement("devices"); devices != nullptr;
       devices = devices->NextSiblingElement("devices")) {
    if (devices->FirstChildElement("tpm") != nullptr) return true;
  }
  return false;
}

namespace {

// Every <channel> of the domain whose <target> names the attestation port.
std::vector<const tinyxml2::XMLElement*> AttestChannels(
    const tinyxml2::XMLElement& root) {
  std::vector<const tinyxml2::XMLElement*> out;
  for (auto* devices = root.FirstChildElement("devices"); devices != nullptr;
       devices = devices->NextSiblingElement("devices")) {
    for (auto* c = devices->FirstChildElement("channel"); c != nullptr;
         c = c->NextSiblingElement("channel")) {
      for (auto* t = c->FirstChildElement("target"); t != nullptr;
           t = t->NextSiblingElement("target")) {
        const char* name = t->Attribute("name");
        if (name != nullptr && std::string_view(name) ==
                                   attest::kGuestAttestPort) {
          out.push_back(c);
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace

StatusOr<bool> HasAttestChannel(const std::string& domain_xml) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  return !AttestChannels(*root).empty();
}

StatusOr<std::string> AttestChannelSocket(const std::string& live_xml) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, live_xml));
  auto channels = AttestChannels(*root);
  if (channels.empty()) return NotFound("domain has no attestation channel");
  if (channels.size() > 1) {
    return InvalidArgument("domain has " + std::to_string(channels.size()) +
                           " attestation channels; the proxy writes one");
  }
  const tinyxml2::XMLElement& c = *channels.front();
  const char* type = c.Attribute("type");
  const tinyxml2::XMLElement* source = c.FirstChildElement("source");
  const char* mode = source ? source->Attribute("mode") : nullptr;
  const char* path = source ? source->Attribute("path") : nullptr;
  if (type == nullptr || std::string_view(type) != "unix" || mode == nullptr ||
      std::string_view(mode) != "bind" || path == nullptr || path[0] != '/') {
    return InvalidArgument(
        "the attestation channel is not a unix socket libvirt bound to an "
        "absolute path");
  }
  return std::string(path);
}

StatusOr<std::string> ChannelSocketSeenAt(const std::string& socket,
                                          const std::string& seen_at) {
  const std::string dir = std::string(kLibvirtChannelDir) + "/";
  bool inside = socket.size() > dir.size() && socket.starts_with(dir);
  for (std::size_t at = 0; inside && at != std::string::npos;) {
    std::size_t next = socket.find('/', at + 1);
    std::string_view part = std::string_view(socket).substr(
        at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (part.empty() || part == "." || part == "..") inside = false;
    at = next;
  }
  if (!inside) {
    return InvalidArgument("the attestation socket " + socket +
                           " is not in libvirt's channel directory " +
                           kLibvirtChannelDir);
  }
  return seen_at + "/" + socket.substr(dir.size());
}

StatusOr<std::string> WithVtpm(const std::string& domain_xml,
                               const std::string& uuid,
                               const std::string& secret_uuid) {
  TVD_ASSIGN_OR_RETURN(bool has_tpm, HasTpmDevice(domain_xml));
  if (has_tpm) return InvalidArgument("domain XML: it has a <tpm> already");
  TVD_ASSIGN_OR_RETURN(bool has_channel, HasAttestChannel(domain_xml));
  if (has_channel) {
    return InvalidArgument("domain XML: it has an attestation channel already");
  }
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  tinyxml2::XMLElement* id = root->FirstChildElement("uuid");
  if (id == nullptr) {
    id = doc.NewElement("uuid");
    id->SetText(uuid.c_str());
    tinyxml2::XMLElement* name = root->FirstChildElement("name");
    if (name != nullptr) {
      root->InsertAfterChild(name, id);
    } else {
      root->InsertFirstChild(id);
    }
  } else if (id->GetText() == nullptr ||
             !EqualsIgnoringCase(uuid, id->GetText())) {
    return InvalidArgument("domain XML: its <uuid> is not " + uuid);
  }
  tinyxml2::XMLElement* devices = root->FirstChildElement("devices");
  if (devices == nullptr) devices = root->InsertNewChildElement("devices");
  auto* tpm = devices->InsertNewChildElement("tpm");
  tpm->SetAttribute("model", "tpm-crb");
  auto* backend = tpm->InsertNewChildElement("backend");
  backend->SetAttribute("type", "emulator");
  backend->SetAttribute("version", "2.0");
  auto* encryption = backend->InsertNewChildElement("encryption");
  encryption->SetAttribute("secret", secret_uuid.c_str());
  // The guest finds a CRB TPM only through ACPI (its TPM2 table): without
  // <acpi/> libvirt starts QEMU with -no-acpi and the vTPM is invisible.
  tinyxml2::XMLElement* features = root->FirstChildElement("features");
  if (features == nullptr) {
    features = doc.NewElement("features");
    root->InsertAfterChild(root->FirstChildElement("os") != nullptr
                               ? root->FirstChildElement("os")
                               : root->LastChildElement(),
                           features);
  }
  if (features->FirstChildElement("acpi") == nullptr) {
    features->InsertNewChildElement("acpi");
  }
  auto* channel = devices->InsertNewChildElement("channel");
  channel->SetAttribute("type", "unix");
  auto* target = channel->InsertNewChildElement("target");
  target->SetAttribute("type", "virtio");
  target->SetAttribute("name", attest::kGuestAttestPort);
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return std::string(printer.CStr());
}

StatusOr<std::string> WithTapNames(
    const std::string& domain_xml,
    const std::map<std::string, std::string>& tap_by_target) {
  tinyxml2::XMLDocument doc;
  TVD_ASSIGN_OR_RETURN(tinyxml2::XMLElement * root,
                       ParseDomain(doc, domain_xml));
  std::map<std::string, int> renamed;
  // libvirt reads every <devices> section, so every one is rewritten.
  for (auto* devices = root->FirstChildElement("devices"); devices != nullptr;
       devices = devices->NextSiblingElement("devices")) {
    for (auto* i = devices->FirstChildElement("interface"); i != nullptr;
         i = i->NextSiblingElement("interface")) {
      for (auto* t = i->FirstChildElement("target"); t != nullptr;
           t = t->NextSiblingElement("target")) {
        const char* dev = t->Attribute("dev");
        if (dev == nullptr) continue;
        auto it = tap_by_target.find(dev);
        if (it == tap_by_target.end()) continue;
        ++renamed[it->first];
        t->SetAttribute("dev", it->second.c_str());
      }
    }
  }
  for (const auto& [target, tap] : tap_by_target) {
    if (!renamed.contains(target)) {
      return NotFound("domain XML: no interface with target '" + target + "'");
    }
  }
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return std::string(printer.CStr());
}

}  // namespace tvd::proxy

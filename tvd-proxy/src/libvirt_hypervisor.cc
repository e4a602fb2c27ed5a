#include "tvd/proxy/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <tinyxml2.h>

#include <cctype>
#include <cstdlib>

#include "tvd/policy/tvd_policy.h"
#include "tvd/attest/guest_quote_client.h"
#include "tvd/proxy/luks_qcow2.h"
#include "tvd/proxy/vm_admission.h"
#include "tvd/xml_escape.h"

namespace tvd::proxy {

namespace {

virConnectPtr Conn(void* p) { return static_cast<virConnectPtr>(p); }

std::string LastError() {
  const virError* e = virGetLastError();
  return e != nullptr && e->message != nullptr ? e->message
                                               : "unknown libvirt error";
}

bool LastErrorIs(int code) {
  const virError* e = virGetLastError();
  return e != nullptr && e->code == code;
}

std::string OwnerOf(virDomainPtr dom) {
  char* meta = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                    policy::kVmNamespace, 0);
  if (meta == nullptr) {
    virResetLastError();
    return "";
  }
  tinyxml2::XMLDocument doc;
  std::string owner;
  if (doc.Parse(meta) == tinyxml2::XML_SUCCESS && doc.RootElement() &&
      doc.RootElement()->Attribute("owner")) {
    owner = doc.RootElement()->Attribute("owner");
  }
  std::free(meta);
  return owner;
}

void NoErrorOutput(void*, virErrorPtr) {}

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// AlreadyExists when a domain of the XML's name, or of its <uuid>, exists
// (running or not, persistent or transient). XML that does not parse is
// left to libvirt to refuse.
Status RefuseExisting(virConnectPtr conn, const std::string& domain_xml) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(domain_xml.data(), domain_xml.size()) !=
          tinyxml2::XML_SUCCESS ||
      doc.RootElement() == nullptr) {
    return Status::Ok();
  }
  const tinyxml2::XMLElement* name =
      doc.RootElement()->FirstChildElement("name");
  if (name != nullptr && name->GetText() != nullptr) {
    virDomainPtr dom = virDomainLookupByName(conn, name->GetText());
    if (dom != nullptr) {
      virDomainFree(dom);
      return AlreadyExists("domain '" + std::string(name->GetText()) +
                           "' already exists");
    }
    virResetLastError();
  }
  const tinyxml2::XMLElement* uuid =
      doc.RootElement()->FirstChildElement("uuid");
  if (uuid != nullptr && uuid->GetText() != nullptr) {
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid->GetText());
    if (dom != nullptr) {
      const char* other = virDomainGetName(dom);
      std::string message = "domain with UUID '" + Lower(uuid->GetText()) +
                            "' already exists as '" +
                            (other != nullptr ? other : "") + "'";
      virDomainFree(dom);
      return AlreadyExists(message);
    }
    virResetLastError();
  }
  return Status::Ok();
}

// Undefines with the domain's NVRAM (UEFI guests need the flag); drivers
// that know no NVRAM reject the flag, so plain undefine follows.
int Undefine(virDomainPtr dom) {
  if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM) == 0) return 0;
  return virDomainUndefine(dom);
}

}  // namespace

StatusOr<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::Open(
    const std::string& uri, const std::string& secrets_uri) {
  virSetErrorFunc(nullptr, &NoErrorOutput);
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (c == nullptr) {
    return Unavailable("cannot connect to libvirt at '" + uri +
                       "': " + LastError());
  }
  virConnectPtr s = c;
  if (!secrets_uri.empty()) {
    s = virConnectOpen(secrets_uri.c_str());
    if (s == nullptr) {
      std::string err = LastError();
      virConnectClose(c);
      return Unavailable("cannot connect to libvirt's secret driver at '" +
                         secrets_uri + "': " + err);
    }
  }
  return std::unique_ptr<LibvirtHypervisor>(new LibvirtHypervisor(c, s));
}

std::unique_ptr<LibvirtHypervisor> LibvirtHypervisor::Adopt(
    virConnectPtr conn, virConnectPtr secrets) {
  virSetErrorFunc(nullptr, &NoErrorOutput);
  virConnectRef(conn);
  if (secrets != conn) virConnectRef(secrets);
  return std::unique_ptr<LibvirtHypervisor>(
      new LibvirtHypervisor(conn, secrets));
}

LibvirtHypervisor::~LibvirtHypervisor() {
  if (secrets_ != nullptr && secrets_ != conn_) {
    virConnectClose(Conn(secrets_));
  }
  if (conn_ != nullptr) virConnectClose(Conn(conn_));
}

Status LibvirtHypervisor::DefineAndStart(const std::string& domain_xml) {
  // libvirt's define updates a domain of the same name and UUID instead of
  // refusing it, and the start would then fail on the running one (or
  // start a stopped one with this XML): a domain that exists is refused
  // here first. A domain defined between this check and the define (by a
  // tenant through the relay) still gets libvirt's own refusal below when
  // its UUID differs.
  TVD_RETURN_IF_ERROR(RefuseExisting(Conn(conn_), domain_xml));
  virDomainPtr dom = virDomainDefineXMLFlags(Conn(conn_), domain_xml.c_str(),
                                             VIR_DOMAIN_DEFINE_VALIDATE);
  if (dom == nullptr) {
    if (LastErrorIs(VIR_ERR_OPERATION_FAILED) ||
        LastErrorIs(VIR_ERR_DOM_EXIST)) {
      return AlreadyExists("libvirt: " + LastError());
    }
    return FailedPrecondition("libvirt refused the domain: " + LastError());
  }
  if (virDomainCreate(dom) != 0) {
    std::string err = LastError();
    Undefine(dom);
    virDomainFree(dom);
    return FailedPrecondition("libvirt could not start the domain: " + err);
  }
  virDomainFree(dom);
  return Status::Ok();
}

Status LibvirtHypervisor::DestroyAndUndefine(const std::string& name) {
  virDomainPtr dom = virDomainLookupByName(Conn(conn_), name.c_str());
  if (dom == nullptr) return NotFound("no domain '" + name + "'");
  if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) != 0) {
    std::string err = LastError();
    virDomainFree(dom);
    return FailedPrecondition("destroying domain '" + name + "': " + err);
  }
  if (virDomainIsPersistent(dom) == 1 && Undefine(dom) != 0) {
    std::string err = LastError();
    virDomainFree(dom);
    return FailedPrecondition("undefining domain '" + name + "': " + err);
  }
  virDomainFree(dom);
  return Status::Ok();
}

StatusOr<std::string> LibvirtHypervisor::DomainXml(const std::string& name) {
  virDomainPtr dom = virDomainLookupByName(Conn(conn_), name.c_str());
  if (dom == nullptr) return NotFound("no domain '" + name + "'");
  char* xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
  virDomainFree(dom);
  if (xml == nullptr)
    return Unavailable("domain XML of '" + name + "': " + LastError());
  std::string out(xml);
  std::free(xml);
  return out;
}

StatusOr<attest::GuestQuoteAnswer> LibvirtHypervisor::AskGuestForQuote(
    const std::string& name, const attest::GuestQuoteRequest& request,
    std::chrono::milliseconds timeout) {
  virDomainPtr dom = virDomainLookupByName(Conn(conn_), name.c_str());
  if (dom == nullptr) return NotFound("no domain '" + name + "'");
  const bool running = virDomainIsActive(dom) == 1;
  // The live XML: the socket path libvirt chose is only there.
  char* xml = running ? virDomainGetXMLDesc(dom, 0) : nullptr;
  virDomainFree(dom);
  if (!running) {
    return FailedPrecondition("domain '" + name + "' is not running");
  }
  if (xml == nullptr)
    return Unavailable("domain XML of '" + name + "': " + LastError());
  std::string live(xml);
  std::free(xml);
  auto socket = AttestChannelSocket(live);
  if (socket.status().code() == ErrorCode::kNotFound) {
    return NotFound("domain '" + name + "' has no attestation channel");
  }
  TVD_RETURN_IF_ERROR(socket.status().WithContext("domain '" + name + "'"));
  auto here = ChannelSocketSeenAt(*socket, channel_dir_);
  TVD_RETURN_IF_ERROR(here.status().WithContext("domain '" + name + "'"));
  return attest::AskGuestForQuote(*here, request, timeout);
}

StatusOr<std::vector<DomainSummary>> LibvirtHypervisor::ListDomains() {
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(Conn(conn_), &doms, 0);
  if (n < 0) return Unavailable("listing domains: " + LastError());
  std::vector<DomainSummary> out;
  for (int i = 0; i < n; ++i) {
    DomainSummary s;
    if (const char* name = virDomainGetName(doms[i])) s.name = name;
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(doms[i], uuid) == 0) s.uuid = uuid;
    s.active = virDomainIsActive(doms[i]) == 1;
    s.owner_tvd = OwnerOf(doms[i]);
    out.push_back(std::move(s));
    virDomainFree(doms[i]);
  }
  std::free(doms);
  return out;
}

StatusOr<std::string> LibvirtHypervisor::DefineSecret(
    const std::string& usage, const SecureBytes& value) {
  return DefineSecretOf(false, usage, value);
}

StatusOr<std::string> LibvirtHypervisor::DefineVtpmSecret(
    const std::string& usage, const SecureBytes& value) {
  return DefineSecretOf(true, usage, value);
}

StatusOr<std::string> LibvirtHypervisor::DefineSecretOf(
    bool vtpm, const std::string& usage, const SecureBytes& value) {
  // libvirt refuses a second secret for a usage too, but as an internal
  // error; the caller needs to tell "already there" from "refused". It
  // keeps usages unique per type only; the proxy's names are unique across
  // both.
  for (int type : {VIR_SECRET_USAGE_TYPE_VOLUME, VIR_SECRET_USAGE_TYPE_VTPM}) {
    virSecretPtr existing =
        virSecretLookupByUsage(Conn(secrets_), type, usage.c_str());
    if (existing != nullptr) {
      virSecretFree(existing);
      return AlreadyExists("a secret for '" + usage + "' already exists");
    }
    virResetLastError();
  }
  const std::string xml =
      vtpm ? "<secret ephemeral='yes' private='yes'><description>TVD vTPM "
             "state key</description><usage type='vtpm'><name>" +
                 EscapeXml(usage) + "</name></usage></secret>"
           : "<secret ephemeral='yes' private='yes'><description>TVD disk "
             "key</description><usage type='volume'><volume>" +
                 EscapeXml(usage) + "</volume></usage></secret>";
  virSecretPtr sec = virSecretDefineXML(Conn(secrets_), xml.c_str(), 0);
  if (sec == nullptr) {
    return FailedPrecondition("libvirt refused secret '" + usage +
                              "': " + LastError());
  }
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  virSecretGetUUIDString(sec, uuid);
  if (virSecretSetValue(sec, value.data(), value.size(), 0) != 0) {
    std::string err = LastError();
    virSecretUndefine(sec);
    virSecretFree(sec);
    return FailedPrecondition("setting secret '" + usage + "': " + err);
  }
  virSecretFree(sec);
  return std::string(uuid);
}

Status LibvirtHypervisor::UndefineSecret(const std::string& uuid) {
  virSecretPtr sec = virSecretLookupByUUIDString(Conn(secrets_), uuid.c_str());
  if (sec == nullptr) return NotFound("no secret " + uuid);
  int r = virSecretUndefine(sec);
  virSecretFree(sec);
  if (r != 0)
    return FailedPrecondition("undefining secret " + uuid + ": " + LastError());
  return Status::Ok();
}

Status LibvirtHypervisor::CreateEncryptedDisk(const std::string& path,
                                              std::uint64_t size_mib,
                                              const SecureBytes& passphrase) {
  return CreateLuksQcow2(path, size_mib, passphrase);
}

StatusOr<std::vector<std::string>> LibvirtHypervisor::ListSecrets(
    const std::string& usage_prefix) {
  virSecretPtr* secs = nullptr;
  int n = virConnectListAllSecrets(Conn(secrets_), &secs, 0);
  if (n < 0) return Unavailable("listing secrets: " + LastError());
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const char* usage = virSecretGetUsageID(secs[i]);
    if (usage != nullptr && std::string_view(usage).starts_with(usage_prefix)) {
      char uuid[VIR_UUID_STRING_BUFLEN] = {};
      if (virSecretGetUUIDString(secs[i], uuid) == 0) out.push_back(uuid);
    }
    virSecretFree(secs[i]);
  }
  std::free(secs);
  return out;
}

}  // namespace tvd::proxy

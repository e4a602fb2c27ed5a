#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <tinyxml2.h>

#include <cstdlib>
#include <cstring>

#include "tvd/log.h"
#include "tvd/rm/node_sources.h"

namespace tvd::rm {

namespace {

constexpr const char* kTvdNamespace = "urn:tvd:vm:1";

std::string_view LocalName(const char* name) {
  std::string_view n(name);
  auto colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

const char* StateName(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
      return "running";
    case VIR_DOMAIN_BLOCKED:
      return "blocked";
    case VIR_DOMAIN_PAUSED:
      return "paused";
    case VIR_DOMAIN_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
      return "shutoff";
    case VIR_DOMAIN_CRASHED:
      return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
      return "pmsuspended";
    default:
      return "unknown";
  }
}

std::string LastLibvirtError() {
  const virError* e = virGetLastError();
  return e != nullptr && e->message != nullptr ? e->message : "unknown error";
}

// libvirt prints every error to stderr unless told otherwise; the agent
// reports them through its own log instead.
void QuietErrors(void*, virErrorPtr) {}

class LibvirtDomainSource : public DomainSource {
 public:
  explicit LibvirtDomainSource(std::string uri) : uri_(std::move(uri)) {
    virSetErrorFunc(nullptr, &QuietErrors);
  }
  ~LibvirtDomainSource() override { Close(); }

  StatusOr<std::vector<LocalDomain>> ListDomains() override {
    if (conn_ == nullptr) {
      conn_ = virConnectOpenReadOnly(uri_.c_str());
      if (conn_ == nullptr) {
        return Unavailable("libvirt '" + uri_ + "': " + LastLibvirtError());
      }
    }
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_, &doms, 0);
    if (n < 0) {
      std::string why = LastLibvirtError();
      Close();
      return Unavailable("libvirt '" + uri_ + "': list domains: " + why);
    }
    std::vector<LocalDomain> out;
    for (int i = 0; i < n; ++i) {
      LocalDomain d;
      if (const char* name = virDomainGetName(doms[i])) d.info.name = name;
      char uuid[VIR_UUID_STRING_BUFLEN] = {};
      if (virDomainGetUUIDString(doms[i], uuid) == 0) d.info.uuid = uuid;
      virDomainInfo info{};
      if (virDomainGetInfo(doms[i], &info) == 0) {
        d.info.state = StateName(info.state);
        d.vcpus = info.nrVirtCpu;
        d.memory_kib = info.memory;
      } else {
        d.info.state = "unknown";
      }
      char* meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                        kTvdNamespace, 0);
      if (meta != nullptr) {
        Status s = ParseTvdMetadata(meta, d.info);
        if (!s.ok()) {
          log::Warning("domain '", d.info.name, "': ", s.message());
        }
        std::free(meta);
      }
      virDomainFree(doms[i]);
      if (!d.info.name.empty()) out.push_back(std::move(d));
    }
    std::free(doms);
    return out;
  }

 private:
  void Close() {
    if (conn_ != nullptr) virConnectClose(conn_);
    conn_ = nullptr;
  }
  std::string uri_;
  virConnectPtr conn_ = nullptr;
};

}  // namespace

Status ParseTvdMetadata(std::string_view xml, DomainInfo& domain) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return InvalidArgument("TVD metadata: not well-formed XML");
  }
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (root == nullptr || LocalName(root->Name()) != "tvd") {
    return InvalidArgument("TVD metadata: root element is not <tvd>");
  }
  const char* owner = root->Attribute("owner");
  if (owner == nullptr || *owner == '\0') {
    return InvalidArgument("TVD metadata: <tvd> has no owner");
  }
  domain.tvd = owner;
  domain.networks.clear();
  for (const tinyxml2::XMLElement* e = root->FirstChildElement(); e != nullptr;
       e = e->NextSiblingElement()) {
    if (LocalName(e->Name()) != "vnet") continue;
    const char* net = e->Attribute("network");
    if (net != nullptr && *net != '\0' &&
        domain.networks.size() < kMaxNetworksPerDomain) {
      domain.networks.emplace_back(net);
    }
  }
  return Status::Ok();
}

std::unique_ptr<DomainSource> MakeLibvirtDomainSource(std::string uri) {
  return std::make_unique<LibvirtDomainSource>(std::move(uri));
}

}  // namespace tvd::rm

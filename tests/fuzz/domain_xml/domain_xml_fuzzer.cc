// libFuzzer target for the relay's domain XML allowlist. The first byte
// picks the host's graphics policy, the rest is the tenant's XML. Besides
// "no crash, no leak, no undefined behaviour" it checks, on every input:
//   - a refusal is PermissionDenied or InvalidArgument, nothing else;
//   - an accepted document is owned by the tenant's TVD, is accepted again
//     as it stands (libvirtd gets what the relay would pass), and outside
//     <metadata> names no absolute path but files in the TVD storage, the
//     host's emulator and /dev/urandom, no seclabel and no hostdev.
// A broken promise aborts, which libFuzzer reports with the input.
#include <tinyxml2.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tvd/libvirt_filter/domain_xml.h"

using namespace tvd::libvirt_filter;

namespace {

void CheckValue(std::string_view v, const TenantScope& scope) {
  if (v.empty() || v.front() != '/') return;
  if (IsPathUnder(v, scope.storage_path) || v == scope.emulator ||
      v == "/dev/urandom") {
    return;
  }
  std::abort();
}

void CheckTree(const tinyxml2::XMLElement* e, const TenantScope& scope) {
  std::string_view name = e->Name();
  if (name == "metadata") return;  // opaque by design
  // Free text a tenant may start with '/' and that names nothing.
  bool free_text = name == "name" || name == "title" || name == "description" ||
                   name == "cmdline";
  if (name == "seclabel" || name == "hostdev") std::abort();
  for (const tinyxml2::XMLAttribute* a = e->FirstAttribute(); a != nullptr;
       a = a->Next()) {
    if (std::string_view(a->Name()) != "passwd") CheckValue(a->Value(), scope);
  }
  if (const char* text = e->GetText(); text != nullptr && !free_text) {
    CheckValue(text, scope);
  }
  for (const tinyxml2::XMLElement* c = e->FirstChildElement(); c != nullptr;
       c = c->NextSiblingElement()) {
    CheckTree(c, scope);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  TenantScope scope{"blue", "/var/lib/tvd/blue", {"blue-data", "blue-mgmt"}};
  scope.graphics = static_cast<GraphicsPolicy>(data[0] % 3);
  std::string_view xml(reinterpret_cast<const char*>(data + 1), size - 1);
  tvd::StatusOr<ConfinedDomain> c = ConfineDomainXml(xml, scope);
  if (!c.ok()) {
    tvd::ErrorCode code = c.status().code();
    if (code != tvd::ErrorCode::kPermissionDenied &&
        code != tvd::ErrorCode::kInvalidArgument) {
      std::abort();
    }
    return 0;
  }
  tvd::StatusOr<std::string> owner = OwnerFromDomainXml(c->xml);
  if (!owner.ok() || *owner != "blue") std::abort();
  tvd::StatusOr<ConfinedDomain> again = ConfineDomainXml(c->xml, scope);
  if (!again.ok() || again->name != c->name) std::abort();
  tinyxml2::XMLDocument doc;
  if (doc.Parse(c->xml.data(), c->xml.size()) != tinyxml2::XML_SUCCESS) {
    std::abort();
  }
  CheckTree(doc.RootElement(), scope);
  return 0;
}

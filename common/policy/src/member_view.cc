#include "tvd/policy/member_view.h"

#include <tinyxml2.h>

#include "tvd/policy/canonical.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::policy {

StatusOr<std::string> MemberViewXml(std::string_view xml,
                                    std::string_view source) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<tinyxml2::XMLDocument> doc,
                       ParseXml(xml, source));
  tinyxml2::XMLElement* hosts =
      doc->RootElement()->FirstChildElement("authorized-hosts");
  if (hosts == nullptr) {
    return InvalidArgument(std::string(source) +
                           ": policy has no <authorized-hosts>");
  }
  hosts->DeleteChildren();
  tinyxml2::XMLPrinter printer;
  doc->Print(&printer);
  return std::string(printer.CStr(),
                     static_cast<std::size_t>(printer.CStrSize() - 1));
}

Sha256Digest MemberViewDigest(const TvdPolicy& policy) {
  TvdPolicy view = policy;
  view.authorized_hosts.clear();
  return CanonicalDigest(view);
}

}  // namespace tvd::policy

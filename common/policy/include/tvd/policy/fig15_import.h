// Import of VM configurations written in the figure-15 form:
//
//   <domain type='...'>
//     ...
//     <owner type='tvd'>blue</owner>
//     <security mode='tvd'>
//       <measure type='kernel'>HEX or ... or empty</measure>
//       <measure type='disk' name='dsk1' target='xvda1'></measure>
//       <encryption type='disk' target='xvda1'/>
//       <vnet type='usernet' target='vif-1.0'/>
//     </security>
//   </domain>
//
// The converter removes <owner> and <security> from the domain body and
// writes the same settings as <metadata><tvd:tvd xmlns:tvd="urn:tvd:vm:1">
// (vm_config.h). Everything else in the domain is kept as it was.
//   - A measure whose content is a 64-hex digest keeps it; empty content or
//     a placeholder ("...") leaves it unmeasured, so the result is a
//     template to fill with derive.
//   - An owner that is a DNS name whose first label is a TVD name
//     ("blue.tvd.opentc.net") becomes that label ("blue").
//   - Attributes the project has no use for (measure 'name', vnet 'type') are
//     dropped; each drop and each mapping is reported in `notes`.
// The result is re-parsed as a VM configuration (template allowed) before it
// is returned, so a successful import always validates.
// Errors: the first one, "FILE:LINE: message" (policy_error.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tvd/policy/vm_config.h"
#include "tvd/status.h"

namespace tvd::policy {

struct Fig15Import {
  std::string xml;                 // the converted domain XML
  VmConfig config;                 // `xml` parsed
  std::vector<std::string> notes;  // "FILE:LINE: note" for each change
};

StatusOr<Fig15Import> ImportFig15(std::string_view xml,
                                  std::string_view source);

}  // namespace tvd::policy

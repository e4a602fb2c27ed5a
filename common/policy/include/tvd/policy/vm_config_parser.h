// Parser for VM configurations (vm_config.h).
//
// Inside the TVD metadata everything is strict: unknown elements or
// attributes, duplicates and malformed values are errors. In the rest of the
// domain only what the project relies on is checked: <domain type>, exactly
// one valid <name>, an optional valid <uuid>, absolute <os><kernel>/<initrd>
// paths, every <disk> with a unique <target dev>, and unique, valid
// <interface><target dev>. Other elements are not inspected (libvirt owns
// them). The figure-15 elements <owner>/<security> directly under <domain>
// are refused with a hint to import the file (fig15_import.h).
//
// Two modes:
//   kTemplateAllowed: measures may lack sha256 and vnets their network.
//   kFinal:           the VM configuration a proxy may start. Additionally:
//                     every measure has sha256 and every vnet a network;
//                     measured kernel/initrd exist in <os>; measured or
//                     encrypted disk targets and vnet targets exist in the
//                     domain; the config measure, if present, equals
//                     SHA-256(canonical domain without TVD metadata).
// Errors: the first one, "FILE:LINE: message" (policy_error.h).
#pragma once

#include <string>
#include <string_view>

#include "tvd/policy/vm_config.h"
#include "tvd/status.h"

namespace tinyxml2 {
class XMLDocument;
}

namespace tvd::policy {

enum class VmConfigMode { kTemplateAllowed, kFinal };

StatusOr<VmConfig> ParseVmConfig(std::string_view xml, std::string_view source,
                                 VmConfigMode mode);
StatusOr<VmConfig> LoadVmConfigFile(const std::string& path, VmConfigMode mode);

// The same on an already parsed document (from xml_reader.h).
StatusOr<VmConfig> ReadVmConfig(const tinyxml2::XMLDocument& doc,
                                std::string_view source, VmConfigMode mode);

}  // namespace tvd::policy

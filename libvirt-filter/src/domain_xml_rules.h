// The relay's allowlist of domain XML (internal to domain_xml.cc and its
// table in domain_xml_allowlist.cc).
//
// One ElementRule per element path. Attributes and text are checked by
// value rules; rules that span several nodes (a disk's format, a NIC's
// type and source, the console the host allows) are named by `check` and
// done in domain_xml.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tvd::libvirt_filter::internal {

enum class ValueKind {
  kAny,          // any text (bounded by `max` characters)
  kLine,         // one line of text of at most `max` characters
  kOneOf,        // exactly one of `words`
  kUnsigned,     // decimal digits, value 0..max
  kNumber,       // decimal or 0x hexadecimal, value 0..max
  kName,         // 1..max of [A-Za-z0-9._:+-]
  kStoragePath,  // a path inside the TVD's storage (TenantScope)
  kMac,          // xx:xx:xx:xx:xx:xx (hex)
  kLoopback,     // 127.0.0.1 or ::1
  kUserAlias,    // ua-[A-Za-z0-9_-]{1,60}
  kSerial,       // [A-Za-z0-9_-]{1,max}
  kTvdNetwork,   // one of TenantScope::networks
  kEmpty,        // nothing (or only white space)
};

struct ValueRule {
  ValueKind kind = ValueKind::kAny;
  std::vector<std::string_view> words = {};
  std::uint64_t max = 0;
};

struct AttributeRule {
  std::string_view name;
  ValueRule value;
};

// Cross-node rules, run on the element after its attributes and text.
enum class Check {
  kNone,
  kEmulator,   // equals TenantScope::emulator
  kDisk,       // format pinned by device kind
  kInterface,  // network NICs need a TVD network source, ethernet none
  kChannel,    // unix: guest agent, no path; spicevmc: SPICE allowed
  kGraphics,   // the type the host allows
  kRedirdev,   // spicevmc needs SPICE
  kMetadata,   // opaque foreign-namespace children; TVD element replaced
  kRng,        // backend text empty or /dev/urandom
};

struct ElementRule {
  std::string path;  // "/domain/devices/disk"
  int max = 1;       // occurrences under one parent
  std::vector<AttributeRule> attributes;
  bool has_text = false;
  ValueRule text;
  Check check = Check::kNone;
  std::string_view why;  // why it cannot reach the host (the docs table)
  // Replaces the list of attributes in the docs table when not empty.
  std::string_view attributes_doc = {};
};

// The rules, in document order; built once.
const std::vector<ElementRule>& DomainXmlRules();

// The rule for `path`, or nullptr when the path is not allowed.
const ElementRule* FindDomainXmlRule(std::string_view path);

// What `rule` accepts, for the docs ("one of a, b", "0..64", ...).
std::string DescribeValueRule(const ValueRule& rule);

}  // namespace tvd::libvirt_filter::internal

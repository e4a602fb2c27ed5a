#include "tvd/libvirt_filter/domain_xml.h"

#include <tinyxml2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "domain_xml_names.h"
#include "domain_xml_rules.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/xml_reader.h"

namespace tvd::libvirt_filter {

namespace {

using internal::Check;
using internal::ElementRule;
using internal::LoadDomain;
using internal::LocalName;
using internal::NamespaceOf;
using internal::Prefix;
using internal::ValueKind;
using internal::ValueRule;
using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLNode;

// Limits on the opaque children of <metadata> (libosinfo writes one small
// element; nothing legitimate comes near these).
constexpr int kMaxMetadataChildren = 8;
constexpr std::size_t kMaxMetadataBytes = 16384;

constexpr char kGuestAgent[] = "org.qemu.guest_agent.0";
constexpr char kSpiceAgent[] = "com.redhat.spice.0";

bool IsTvdElement(const XMLElement* e) {
  return LocalName(e->Name()) == "tvd" &&
         NamespaceOf(e) == tvd::policy::kVmNamespace;
}

// The TVD metadata elements directly under <metadata>.
std::vector<XMLElement*> TvdElements(XMLElement* domain) {
  std::vector<XMLElement*> out;
  for (XMLElement* metadata = domain->FirstChildElement("metadata");
       metadata != nullptr;
       metadata = metadata->NextSiblingElement("metadata")) {
    for (XMLElement* e = metadata->FirstChildElement(); e != nullptr;
         e = e->NextSiblingElement()) {
      if (IsTvdElement(e)) out.push_back(e);
    }
  }
  return out;
}

// A value as quoted in messages: at most 80 characters, one line.
std::string Quote(std::string_view v) {
  std::string s(v.substr(0, 80));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return "'" + s + "'";
}

std::string AttrOr(const XMLElement* e, const char* name) {
  const char* v = e != nullptr ? e->Attribute(name) : nullptr;
  return v != nullptr ? v : "";
}

Status NotAllowed(const std::string& path) {
  return PermissionDenied(path + ": not allowed through the TVD relay");
}

Status BadValue(const std::string& path, std::string_view value,
                const std::string& why) {
  return PermissionDenied(path + ": " + Quote(value) + " " + why);
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool AllOf(std::string_view s, bool (*ok)(char)) {
  return std::all_of(s.begin(), s.end(), ok);
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
         c == ':' || c == '+' || c == '-';
}

bool IsSerialChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// Decimal (or, with `hex`, 0x-prefixed hexadecimal) at most `max`.
bool NumberAtMost(std::string_view v, std::uint64_t max, bool hex) {
  int base = 10;
  if (hex && (v.starts_with("0x") || v.starts_with("0X"))) {
    v.remove_prefix(2);
    base = 16;
  }
  if (v.empty() || v.size() > 20) return false;
  if (!AllOf(v, base == 16 ? IsHexDigit : IsDigit)) return false;
  unsigned __int128 n = 0;
  for (char c : v) {
    int digit = IsDigit(c)
                    ? c - '0'
                    : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    n = n * base + static_cast<unsigned>(digit);
    if (n > max) return false;
  }
  return true;
}

bool IsMac(std::string_view v) {
  if (v.size() != 17) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i % 3 == 2 ? v[i] != ':' : !IsHexDigit(v[i])) return false;
  }
  return true;
}

// Why `v` breaks `rule`, or "" when it does not.
std::string ValueProblem(const ValueRule& rule, std::string_view v,
                         const TenantScope& scope) {
  switch (rule.kind) {
    case ValueKind::kAny:
      if (rule.max > 0 && v.size() > rule.max) {
        return "is longer than " + std::to_string(rule.max) + " characters";
      }
      return "";
    case ValueKind::kLine:
      if (v.size() > rule.max || v.find_first_of("\r\n") != v.npos) {
        return "is not one line of at most " + std::to_string(rule.max) +
               " characters";
      }
      return "";
    case ValueKind::kOneOf:
      if (std::find(rule.words.begin(), rule.words.end(), v) !=
          rule.words.end()) {
        return "";
      } else {
        std::string words;
        for (std::string_view w : rule.words) {
          words += (words.empty() ? "" : ", ") + std::string(w);
        }
        return "is not one of " + words;
      }
    case ValueKind::kUnsigned:
    case ValueKind::kNumber:
      if (NumberAtMost(v, rule.max, rule.kind == ValueKind::kNumber)) {
        return "";
      }
      return "is not a number in 0.." + std::to_string(rule.max);
    case ValueKind::kName:
      if (!v.empty() && v.size() <= rule.max && AllOf(v, IsNameChar)) {
        return "";
      }
      return "is not a name of at most " + std::to_string(rule.max) +
             " letters, digits and . _ : + -";
    case ValueKind::kStoragePath:
      if (IsPathUnder(v, scope.storage_path)) return "";
      return "is outside the TVD storage " + scope.storage_path;
    case ValueKind::kMac:
      return IsMac(v) ? "" : "is not a MAC address";
    case ValueKind::kLoopback:
      return v == "127.0.0.1" || v == "::1" ? "" : "is not a loopback address";
    case ValueKind::kUserAlias:
      if (v.starts_with("ua-") && v.size() > 3 && v.size() <= 63 &&
          AllOf(v.substr(3), IsSerialChar)) {
        return "";
      }
      return "is not a user alias (ua- and letters, digits, _ or -)";
    case ValueKind::kSerial:
      if (!v.empty() && v.size() <= rule.max && AllOf(v, IsSerialChar)) {
        return "";
      }
      return "is not a serial of at most " + std::to_string(rule.max) +
             " letters, digits, _ or -";
    case ValueKind::kTvdNetwork:
      if (std::find(scope.networks.begin(), scope.networks.end(), v) !=
          scope.networks.end()) {
        return "";
      }
      return "is not a network of TVD " + scope.tvd;
    case ValueKind::kEmpty:
      return IsBlank(v) ? "" : "is not empty";
  }
  return "is not allowed";
}

// The element's text as libxml2 reads it (all text nodes joined; comments
// were removed before). Other nodes (unknown markup) are refused.
StatusOr<std::string> TextOf(const XMLElement* e, const std::string& path) {
  std::string text;
  for (const XMLNode* n = e->FirstChild(); n != nullptr; n = n->NextSibling()) {
    if (n->ToElement() != nullptr) continue;
    if (const tinyxml2::XMLText* t = n->ToText()) {
      text += t->Value();
      continue;
    }
    return PermissionDenied(path +
                            ": markup other than elements and text is not "
                            "allowed through the TVD relay");
  }
  return text;
}

void RemoveComments(XMLNode* node) {
  for (XMLNode* n = node->FirstChild(); n != nullptr;) {
    XMLNode* next = n->NextSibling();
    if (n->ToComment() != nullptr) {
      node->DeleteChild(n);
    } else {
      RemoveComments(n);
    }
    n = next;
  }
}

std::string Print(const XMLNode* node) {
  tinyxml2::XMLPrinter printer(nullptr, /*compact=*/true);
  node->Accept(&printer);
  return printer.CStr();
}

// Rejects any mention of the TVD namespace inside an opaque subtree, so
// that no TVD element can hide below a foreign one.
Status CheckOpaque(const XMLElement* e, const std::string& path) {
  for (const XMLAttribute* a = e->FirstAttribute(); a != nullptr;
       a = a->Next()) {
    if (std::string_view(a->Value()) == tvd::policy::kVmNamespace) {
      return BadValue(path + "/@" + a->Name(), a->Value(),
                      "is the TVD namespace, which only the relay writes");
    }
  }
  for (const XMLElement* c = e->FirstChildElement(); c != nullptr;
       c = c->NextSiblingElement()) {
    TVD_RETURN_IF_ERROR(CheckOpaque(c, path + "/" + c->Name()));
  }
  return Status::Ok();
}

Status CheckMetadata(const XMLElement* metadata, const std::string& path) {
  int count = 0;
  for (const XMLElement* c = metadata->FirstChildElement(); c != nullptr;
       c = c->NextSiblingElement()) {
    std::string child = path + "/" + c->Name();
    std::string ns = NamespaceOf(c);
    // libvirt keeps only namespaced metadata.
    if (ns.empty()) return NotAllowed(child);
    if (ns == tvd::policy::kVmNamespace) {
      if (LocalName(c->Name()) != "tvd") return NotAllowed(child);
      continue;  // replaced by the relay's own
    }
    if (++count > kMaxMetadataChildren) {
      return PermissionDenied(child + ": more than " +
                              std::to_string(kMaxMetadataChildren) +
                              ", the limit through the TVD relay");
    }
    if (Print(c).size() > kMaxMetadataBytes) {
      return PermissionDenied(child + ": more than " +
                              std::to_string(kMaxMetadataBytes) +
                              " bytes, the limit through the TVD relay");
    }
    TVD_RETURN_IF_ERROR(CheckOpaque(c, child));
  }
  return Status::Ok();
}

Status CheckDisk(const XMLElement* disk, const std::string& path) {
  std::string device = AttrOr(disk, "device");
  std::string format = AttrOr(disk->FirstChildElement("driver"), "type");
  if (device.empty() || device == "disk") {
    // Explicit, so a file never switches between raw and qcow2.
    if (format != "qcow2") {
      return BadValue(path + "/driver/@type", format,
                      "is not qcow2, the one format of TVD disks");
    }
  } else if (!format.empty() && format != "raw") {
    return BadValue(path + "/driver/@type", format,
                    "is not raw, the one format of TVD CD-ROMs");
  }
  return Status::Ok();
}

Status CheckInterface(const XMLElement* nic, const std::string& path,
                      const TenantScope& scope) {
  std::string type = AttrOr(nic, "type");
  const XMLElement* source = nic->FirstChildElement("source");
  if (type == "network") {
    std::string network = AttrOr(source, "network");
    if (network.empty()) {
      return BadValue(path + "/source/@network", network,
                      "is not a network of TVD " + scope.tvd);
    }
    return Status::Ok();
  }
  if (type == "ethernet") {
    if (source != nullptr) return NotAllowed(path + "/source");
    return Status::Ok();
  }
  return BadValue(path + "/@type", type, "is not one of network, ethernet");
}

Status CheckChannel(const XMLElement* channel, const std::string& path,
                    const TenantScope& scope) {
  std::string type = AttrOr(channel, "type");
  std::string name = AttrOr(channel->FirstChildElement("target"), "name");
  if (type == "spicevmc") {
    if (scope.graphics != GraphicsPolicy::kSpice) {
      return BadValue(path + "/@type", type,
                      "needs SPICE graphics, which this host does not allow");
    }
    if (channel->FirstChildElement("source") != nullptr) {
      return NotAllowed(path + "/source");
    }
    if (name != kSpiceAgent) {
      return BadValue(path + "/target/@name", name,
                      std::string("is not ") + kSpiceAgent);
    }
    return Status::Ok();
  }
  if (type != "unix") {
    return BadValue(path + "/@type", type, "is not one of unix, spicevmc");
  }
  if (name != kGuestAgent) {
    return BadValue(path + "/target/@name", name,
                    std::string("is not ") + kGuestAgent +
                        ", the one unix channel through the TVD relay");
  }
  return Status::Ok();
}

Status CheckGraphics(const XMLElement* graphics, const std::string& path,
                     const TenantScope& scope) {
  if (scope.graphics == GraphicsPolicy::kNone) return NotAllowed(path);
  std::string type = AttrOr(graphics, "type");
  std::string_view allowed = GraphicsPolicyName(scope.graphics);
  if (type != allowed) {
    return BadValue(
        path + "/@type", type,
        "is not the console this host allows (" + std::string(allowed) + ")");
  }
  const XMLElement* listen = graphics->FirstChildElement("listen");
  if (listen != nullptr && AttrOr(listen, "type") == "address" &&
      AttrOr(listen, "address").empty()) {
    return BadValue(path + "/listen/@address", "", "is not a loopback address");
  }
  return Status::Ok();
}

Status RunCheck(Check check, const XMLElement* e, const std::string& path,
                const std::string& text, const TenantScope& scope) {
  switch (check) {
    case Check::kNone:
      return Status::Ok();
    case Check::kEmulator:
      if (scope.emulator.empty()) {
        return BadValue(path, text,
                        "is not allowed: this host chooses the emulator");
      }
      if (text != scope.emulator) {
        return BadValue(path, text,
                        "is not this host's emulator " + scope.emulator);
      }
      return Status::Ok();
    case Check::kDisk:
      return CheckDisk(e, path);
    case Check::kInterface:
      return CheckInterface(e, path, scope);
    case Check::kChannel:
      return CheckChannel(e, path, scope);
    case Check::kGraphics:
      return CheckGraphics(e, path, scope);
    case Check::kRedirdev:
      if (scope.graphics != GraphicsPolicy::kSpice) {
        return BadValue(path + "/@type", AttrOr(e, "type"),
                        "needs SPICE graphics, which this host does not "
                        "allow");
      }
      return Status::Ok();
    case Check::kMetadata:
      return CheckMetadata(e, path);
    case Check::kRng:
      if (!text.empty() && text != "/dev/urandom") {
        return BadValue(path, text, "is not /dev/urandom");
      }
      return Status::Ok();
  }
  return NotAllowed(path);
}

// Checks `e` (at `path`, allowed by `rule`) and its subtree.
Status CheckElement(XMLElement* e, const std::string& path,
                    const ElementRule& rule, const TenantScope& scope) {
  for (const XMLAttribute* a = e->FirstAttribute(); a != nullptr;
       a = a->Next()) {
    std::string attr_path = path + "/@" + a->Name();
    auto it = std::find_if(
        rule.attributes.begin(), rule.attributes.end(),
        [&](const internal::AttributeRule& r) { return r.name == a->Name(); });
    if (it == rule.attributes.end()) return NotAllowed(attr_path);
    std::string why = ValueProblem(it->value, a->Value(), scope);
    if (!why.empty()) return BadValue(attr_path, a->Value(), why);
  }
  TVD_ASSIGN_OR_RETURN(std::string text, TextOf(e, path));
  if (!rule.has_text) {
    if (!IsBlank(text)) {
      return PermissionDenied(path +
                              ": text is not allowed through the TVD relay");
    }
  } else {
    std::string why = ValueProblem(rule.text, text, scope);
    if (!why.empty()) return BadValue(path, text, why);
    // One text node holding exactly what was checked.
    for (XMLNode* n = e->FirstChild(); n != nullptr;) {
      XMLNode* next = n->NextSibling();
      if (n->ToText() != nullptr) e->DeleteChild(n);
      n = next;
    }
    if (!text.empty())
      e->InsertFirstChild(e->GetDocument()->NewText(text.c_str()));
  }
  TVD_RETURN_IF_ERROR(RunCheck(rule.check, e, path, text, scope));
  if (rule.check == Check::kMetadata) return Status::Ok();

  std::map<std::string, int, std::less<>> counts;
  for (XMLElement* c = e->FirstChildElement(); c != nullptr;
       c = c->NextSiblingElement()) {
    std::string child_path = path + "/" + c->Name();
    const ElementRule* child_rule =
        Prefix(c->Name()).empty() ? internal::FindDomainXmlRule(child_path)
                                  : nullptr;
    if (child_rule == nullptr) return NotAllowed(child_path);
    int n = ++counts[c->Name()];
    if (n > child_rule->max) {
      if (child_rule->max == 1) {
        return PermissionDenied(child_path +
                                ": more than one, libvirt reads only one");
      }
      return PermissionDenied(child_path + ": more than " +
                              std::to_string(child_rule->max) +
                              ", the limit through the TVD relay");
    }
    TVD_RETURN_IF_ERROR(CheckElement(c, child_path, *child_rule, scope));
  }
  return Status::Ok();
}

XMLElement* ChildOrNew(XMLElement* parent, const char* name, bool first) {
  XMLElement* e = parent->FirstChildElement(name);
  if (e == nullptr) {
    e = parent->GetDocument()->NewElement(name);
    if (first) {
      parent->InsertFirstChild(e);
    } else {
      parent->InsertEndChild(e);
    }
  }
  return e;
}

// The relay's own settings, written over the checked document.
void Rewrite(XMLElement* domain, const TenantScope& scope) {
  XMLDocument* doc = domain->GetDocument();
  XMLElement* devices = domain->FirstChildElement("devices");
  if (!scope.emulator.empty()) {
    if (devices == nullptr) devices = ChildOrNew(domain, "devices", false);
    XMLElement* emulator = ChildOrNew(devices, "emulator", true);
    emulator->SetText(scope.emulator.c_str());
  }
  if (devices != nullptr) {
    for (XMLElement* disk = devices->FirstChildElement("disk"); disk != nullptr;
         disk = disk->NextSiblingElement("disk")) {
      if (AttrOr(disk, "device") != "cdrom") continue;
      XMLElement* driver = ChildOrNew(disk, "driver", true);
      driver->SetAttribute("name", "qemu");
      driver->SetAttribute("type", "raw");
      ChildOrNew(disk, "readonly", false);
    }
    // Without an address libvirt would take qemu.conf's vnc_listen /
    // spice_listen; the relay pins loopback.
    if (XMLElement* g = devices->FirstChildElement("graphics")) {
      if (g->Attribute("listen") == nullptr &&
          g->FirstChildElement("listen") == nullptr) {
        g->SetAttribute("listen", "127.0.0.1");
      }
    }
  }
  XMLElement* metadata = ChildOrNew(domain, "metadata", false);
  for (XMLElement* e = metadata->FirstChildElement(); e != nullptr;) {
    XMLElement* next = e->NextSiblingElement();
    if (NamespaceOf(e) == tvd::policy::kVmNamespace) metadata->DeleteChild(e);
    e = next;
  }
  XMLElement* tvd = doc->NewElement("tvd:tvd");
  tvd->SetAttribute("xmlns:tvd", tvd::policy::kVmNamespace);
  tvd->SetAttribute("owner", scope.tvd.c_str());
  metadata->InsertEndChild(tvd);
}

std::string MarkdownCell(const ElementRule& r) {
  if (!r.attributes_doc.empty()) return std::string(r.attributes_doc);
  std::string s;
  for (const internal::AttributeRule& a : r.attributes) {
    if (!s.empty()) s += "; ";
    s += "`" + std::string(a.name) +
         "`: " + internal::DescribeValueRule(a.value);
  }
  return s.empty() ? "-" : s;
}

}  // namespace

std::string_view GraphicsPolicyName(GraphicsPolicy policy) {
  switch (policy) {
    case GraphicsPolicy::kNone:
      return "none";
    case GraphicsPolicy::kVnc:
      return "vnc";
    case GraphicsPolicy::kSpice:
      return "spice";
  }
  return "none";
}

StatusOr<GraphicsPolicy> ParseGraphicsPolicy(std::string_view name) {
  for (GraphicsPolicy p :
       {GraphicsPolicy::kNone, GraphicsPolicy::kVnc, GraphicsPolicy::kSpice}) {
    if (name == GraphicsPolicyName(p)) return p;
  }
  return InvalidArgument("graphics: '" + std::string(name) +
                         "' is not one of none, vnc, spice");
}

bool IsPathUnder(std::string_view path, std::string_view root) {
  if (root.empty() || root.front() != '/' || path.size() <= root.size() + 1) {
    return false;
  }
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (!path.starts_with(root) || path[root.size()] != '/') return false;
  std::string_view rest = path.substr(root.size() + 1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20) return false;
    }
    if (slash == std::string_view::npos) return true;
    rest = rest.substr(slash + 1);
  }
}

StatusOr<std::string> OwnerFromDomainXml(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  std::vector<XMLElement*> tvds = TvdElements(doc->RootElement());
  if (tvds.empty()) return std::string();
  if (tvds.size() > 1) {
    return InvalidArgument("domain XML has more than one TVD element");
  }
  return AttrOr(tvds.front(), "owner");
}

StatusOr<ConfinedDomain> ConfineDomainXml(std::string_view xml,
                                          const TenantScope& scope) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<XMLDocument> doc, LoadDomain(xml));
  RemoveComments(doc.get());
  XMLElement* domain = doc->RootElement();
  ConfinedDomain out;
  const XMLElement* name = domain->FirstChildElement("name");
  if (name == nullptr || name->GetText() == nullptr) {
    return InvalidArgument("domain XML: exactly one non-empty <name> needed");
  }
  out.name = name->GetText();
  if (const XMLElement* uuid = domain->FirstChildElement("uuid")) {
    const char* text = uuid->GetText();
    std::optional<Uuid> parsed =
        UuidFromString(text != nullptr ? std::string_view(text) : "");
    if (!parsed) {
      // libvirt also accepts UUIDs without dashes; the relay does not, so
      // that the UUID it checks is the one libvirt will use.
      return InvalidArgument("domain XML: <uuid> " +
                             Quote(text != nullptr ? text : "") +
                             " is not of the form 8-4-4-4-12");
    }
    out.uuid = parsed;
  }
  const ElementRule* root = internal::FindDomainXmlRule("/domain");
  TVD_RETURN_IF_ERROR(CheckElement(domain, "/domain", *root, scope));
  // The name libvirt reads is the whole (checked, merged) text.
  out.name = domain->FirstChildElement("name")->GetText();
  Rewrite(domain, scope);

  tinyxml2::XMLPrinter printer(nullptr, /*compact=*/false);
  doc->Print(&printer);
  out.xml = printer.CStr();
  return out;
}

std::string DomainXmlAllowlistMarkdown() {
  std::string s =
      "| path | attributes | text | at most | why it cannot reach the host "
      "|\n|---|---|---|---|---|\n";
  for (const ElementRule& r : internal::DomainXmlRules()) {
    s += "| `" + r.path + "` | " + MarkdownCell(r) + " | " +
         (r.has_text ? internal::DescribeValueRule(r.text) : "-") + " | " +
         std::to_string(r.max) + " | " + std::string(r.why) + " |\n";
  }
  return s;
}

}  // namespace tvd::libvirt_filter

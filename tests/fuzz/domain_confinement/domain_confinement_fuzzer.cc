// Property test of the relay's domain confinement, as a fuzz target.
//
// Each input is a domain XML document from a tenant. It goes through
// ConfineDomainXml (domain_xml.h) with the TVD "blue" scope; every document
// the confinement accepts is given to libvirt's own parser (the test driver,
// in process) with virDomainDefineXML, and what libvirt stored
// (virDomainGetXMLDesc, inactive + secure) is checked by StoredViolations
// below, which shares no code with the confinement. Any violation prints the
// input, the confined and the stored XML and aborts: the confinement let
// through something that would reach the host.
//
// The property, on libvirt's stored XML (so every <devices> section, every
// default libvirt fills in, every spelling it normalizes is seen):
//   - every attribute and text that is an absolute path, and every value at
//     a place libvirt reads as a path (IsPathPlace), lies under the tenant's
//     storage, except a short list of libvirt defaults at their
//     exact place (kAllowedDefaults) and free text that libvirt never opens
//     (kFreeText);
//   - the emulator, when named, is the driver's default;
//   - no host device: no <hostdev>, no disk other than type 'file', no
//     interface other than 'network' (on the TVD's networks) or 'ethernet',
//     no <source bridge|dev>, <virtualport> or <vlan> in an interface, no
//     host input (only tablet, mouse, keyboard), no TPM but the emulator, no
//     smartcard on host certificates or devices;
//   - no host socket: character devices only of types whose other end libvirt
//     or QEMU makes (pty, null, vc, spice channels, libvirt-named unix);
//   - no <seclabel>, <filesystem>, <shmem>, <memoryBacking>, and no element of
//     another namespace outside <metadata> (driver pass-through);
//   - the stored XML parses: libvirt 9.0 writes some attributes unescaped
//     (<os><type machine>), so a quote in one rewrites the stored config,
//     which libvirtd reads back on its next start
//     (regression-machine-attribute-*.xml).
//
// The test driver only runs domains of type 'test'. A confined document of
// type 'kvm' or 'qemu' has its root type set to 'test' before the define:
// the type names no host resource, and the rest of the document is what
// libvirt's shared parser would store for the QEMU driver too.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <tinyxml2.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/domain_xml.h"

using namespace tvd::libvirt_filter;
using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLNode;

namespace {

// TVD blue on a host with the default emulator. The host's graphics policy
// is SPICE (virt-manager's default console), or VNC for a document that
// mentions vnc, so that both policies are exercised.
const TenantScope& Scope(GraphicsPolicy graphics = GraphicsPolicy::kSpice) {
  static const TenantScope spice{.tvd = "blue",
                                 .storage_path = "/var/lib/tvd/blue",
                                 .networks = {"blue-data", "blue-mgmt"},
                                 .emulator = kDefaultEmulator,
                                 .graphics = GraphicsPolicy::kSpice};
  static const TenantScope vnc = [] {
    TenantScope s = spice;
    s.graphics = GraphicsPolicy::kVnc;
    return s;
  }();
  return graphics == GraphicsPolicy::kVnc ? vnc : spice;
}

// Absolute paths libvirt itself puts (or accepts as its default) at one
// place: "<element path>=<value>" for text, "<element path>@attr=<value>".
//   - the host's emulator (Scope().emulator), which the relay writes or
//     requires;
//   - the kernel's entropy sources for <rng><backend model='random'>
//     (libvirt's default is /dev/urandom; /dev/random is the same pool and
//     gives the guest nothing of the host);
//   - libvirt's default resource partition (a cgroup name, not a file).
const std::set<std::string>& AllowedDefaults() {
  static const std::set<std::string> allowed = {
      "/domain/devices/emulator=" + Scope().emulator,
      "/domain/devices/rng/backend=/dev/urandom",
      "/domain/devices/rng/backend=/dev/random",
      "/domain/resource/partition=/machine",
  };
  return allowed;
}

// Text or attributes libvirt stores for people or for the guest and never
// opens on the host: an absolute path there is not a host path.
bool IsFreeText(const std::string& where) {
  static const std::set<std::string> free_text = {
      "/domain/title",
      "/domain/description",
      "/domain/os/cmdline",
      "/domain/devices/graphics@passwd",
      "/domain/devices/channel/target@name",  // checked in CheckPlace
      "/domain/sysinfo/system/entry",
      "/domain/sysinfo/bios/entry",
      "/domain/sysinfo/baseBoard/entry",
      "/domain/sysinfo/chassis/entry",
      "/domain/sysinfo/processor/entry",
      "/domain/sysinfo/memory_device/entry",
      "/domain/sysinfo/oemStrings/entry",
  };
  return free_text.count(where) != 0;
}

// Places where libvirt reads a value as a host path whatever its spelling
// (an absolute path anywhere else is caught by its leading '/').
bool IsPathPlace(const std::string& where) {
  static const std::set<std::string> places = {
      "/domain/os/kernel",
      "/domain/os/initrd",
      "/domain/os/dtb",
      "/domain/os/loader",
      "/domain/os/nvram",
      "/domain/os/nvram@template",
      "/domain/os/acpi/table",
      "/domain/devices/emulator",
      "/domain/devices/disk/source@file",
      "/domain/devices/disk/source@dev",
      "/domain/devices/disk/source@dir",
      "/domain/devices/disk/backingStore/source@file",
      "/domain/devices/serial/source@path",
      "/domain/devices/parallel/source@path",
      "/domain/devices/console/source@path",
      "/domain/devices/channel/source@path",
      "/domain/devices/serial/log@file",
      "/domain/devices/console/log@file",
      "/domain/devices/channel/log@file",
      "/domain/devices/interface/script@path",
      "/domain/devices/interface/downscript@path",
      "/domain/devices/interface/source@path",
      "/domain/devices/rng/backend",
      "/domain/devices/tpm/backend/device@path",
      "/domain/devices/memory/source/path",
      "/domain/devices/input/source@evdev",
      "/domain/devices/input/source@dev",
      "/domain/devices/graphics@socket",
      "/domain/devices/graphics/listen@socket",
      "/domain/devices/audio@path",
      "/domain/devices/audio/input@path",
      "/domain/devices/audio/output@path",
      "/domain/devices/smartcard/database",
      "/domain/devices/smartcard/certificate",
      "/domain/sysinfo/entry@file",
  };
  return places.count(where) != 0;
}

bool In(std::string_view v, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set) {
    if (v == s) return true;
  }
  return false;
}

std::string Attr(const XMLElement* e, const char* name) {
  const char* v = e->Attribute(name);
  return v == nullptr ? "" : v;
}

class Checker {
 public:
  std::vector<std::string> violations;

  void Element(const XMLElement* e, const std::string& parent) {
    const std::string name = e->Name();
    const std::string path = parent + "/" + name;
    if (path == "/domain/metadata") return;  // the tenant's own data
    if (name.find(':') != std::string::npos) {
      Violation(path, "element of another namespace outside <metadata>");
    }
    if (In(name,
           {"hostdev", "seclabel", "filesystem", "shmem", "memoryBacking"})) {
      Violation(path, "<" + name + "> is not allowed");
    }
    CheckPlace(e, name, path);
    for (const XMLAttribute* a = e->FirstAttribute(); a != nullptr;
         a = a->Next()) {
      Value(path + "@" + a->Name(), a->Value());
    }
    for (const XMLNode* n = e->FirstChild(); n != nullptr;
         n = n->NextSibling()) {
      if (const XMLElement* child = n->ToElement()) {
        Element(child, path);
      } else if (n->ToText() != nullptr) {
        Value(path, n->Value());
      }
    }
  }

 private:
  void Violation(const std::string& where, const std::string& why) {
    violations.push_back(where + ": " + why);
  }

  void Value(const std::string& where, std::string_view value) {
    std::size_t first = value.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return;
    value = value.substr(first);
    while (!value.empty() && std::strchr(" \t\r\n", value.back()) != nullptr) {
      value.remove_suffix(1);
    }
    if (where == "/domain/devices/emulator" &&
        AllowedDefaults().count(where + "=" + std::string(value)) == 0) {
      Violation(where, "emulator '" + std::string(value) +
                           "' is not the host's default");
      return;
    }
    // A relative name at a place libvirt reads as a path is a host path
    // too: QEMU resolves it against its working directory, "/".
    if (value.front() != '/' && !IsPathPlace(where)) return;
    if (IsFreeText(where)) return;
    if (AllowedDefaults().count(where + "=" + std::string(value)) != 0) return;
    if (IsPathUnder(value, Scope().storage_path)) return;
    Violation(where, "'" + std::string(value) + "' is outside the storage " +
                         Scope().storage_path + "/");
  }

  void CheckPlace(const XMLElement* e, const std::string& name,
                  const std::string& path) {
    const std::string type = Attr(e, "type");
    if (path == "/domain/devices/disk" && type != "file") {
      Violation(path, "disk type '" + type + "' is not a file");
    }
    if (path == "/domain/devices/interface") Interface(e, path, type);
    // libvirt names a virtio channel's socket after its target name
    // (<channel dir>/<domain>.<name>) when the XML gives no path: a '/' in
    // the name moves the socket elsewhere on the host.
    if (path == "/domain/devices/channel/target" &&
        Attr(e, "name").find('/') != std::string::npos) {
      Violation(path + "@name", "'" + Attr(e, "name") +
                                    "' has a '/' (libvirt builds a host "
                                    "socket path from it)");
    }
    if (path == "/domain/devices/input" &&
        !In(type, {"tablet", "mouse", "keyboard"})) {
      Violation(path, "input type '" + type + "' reads a host device");
    }
    if (path == "/domain/devices/tpm/backend" && type != "emulator") {
      Violation(path, "TPM backend '" + type + "' is a host TPM");
    }
    if (path == "/domain/devices/smartcard" &&
        Attr(e, "mode").starts_with("host")) {
      Violation(path, "smartcard mode '" + Attr(e, "mode") +
                          "' uses the host's card or certificates");
    }
    // Character devices and the other elements that carry one.
    bool chardev =
        In(path, {"/domain/devices/serial", "/domain/devices/parallel",
                  "/domain/devices/console", "/domain/devices/channel",
                  "/domain/devices/redirdev"}) ||
        (path == "/domain/devices/smartcard" &&
         Attr(e, "mode") == "passthrough") ||
        (path == "/domain/devices/rng/backend" && Attr(e, "model") == "egd");
    if (chardev && !In(type, {"pty", "null", "vc", "spicevmc", "spiceport",
                              "qemu-vdagent", "unix"})) {
      Violation(path, "character device type '" + type +
                          "' opens a host file, device or socket");
    }
    (void)name;
  }

  void Interface(const XMLElement* e, const std::string& path,
                 const std::string& type) {
    if (type != "network" && type != "ethernet") {
      Violation(path, "interface type '" + type + "' is not network/ethernet");
    }
    for (const XMLElement* c = e->FirstChildElement(); c != nullptr;
         c = c->NextSiblingElement()) {
      std::string child = c->Name();
      if (child == "virtualport" || child == "vlan") {
        Violation(path + "/" + child, "chooses a switch port or VLAN");
      }
      if (child == "source") {
        if (c->Attribute("bridge") != nullptr ||
            c->Attribute("dev") != nullptr) {
          Violation(path + "/source", "names a host bridge or device");
        }
        if (type == "network") {
          std::string network = Attr(c, "network");
          bool ours = false;
          for (const std::string& n : Scope().networks) ours |= n == network;
          if (!ours) {
            Violation(path + "/source",
                      "network '" + network + "' is not one of the TVD's");
          }
        }
      }
    }
  }
};

std::vector<std::string> StoredViolations(const std::string& stored) {
  XMLDocument doc;
  if (doc.Parse(stored.c_str(), stored.size()) != tinyxml2::XML_SUCCESS ||
      doc.RootElement() == nullptr) {
    return {std::string("libvirt's stored XML does not parse: ") +
            doc.ErrorStr()};
  }
  Checker checker;
  checker.Element(doc.RootElement(), "");
  return checker.violations;
}

// The confined document with a root type the test driver runs.
std::string ForTestDriver(const std::string& confined) {
  XMLDocument doc;
  if (doc.Parse(confined.c_str(), confined.size()) != tinyxml2::XML_SUCCESS ||
      doc.RootElement() == nullptr) {
    return confined;
  }
  const char* type = doc.RootElement()->Attribute("type");
  if (type == nullptr ||
      (std::strcmp(type, "kvm") != 0 && std::strcmp(type, "qemu") != 0)) {
    return confined;
  }
  doc.RootElement()->SetAttribute("type", "test");
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return printer.CStr();
}

void Quiet(void*, virErrorPtr) {}

// One connection to the in-process test driver for the whole run, emptied
// of the driver's sample domain so that no input can touch it.
virConnectPtr Connection() {
  static virConnectPtr conn = [] {
    virSetErrorFunc(nullptr, Quiet);
    virConnectPtr c = virConnectOpen("test:///default");
    if (c == nullptr) {
      std::fprintf(stderr, "cannot open test:///default\n");
      std::abort();
    }
    virDomainPtr* all = nullptr;
    int n = virConnectListAllDomains(c, &all, 0);
    for (int i = 0; i < n; ++i) {
      if (virDomainIsActive(all[i]) == 1) virDomainDestroy(all[i]);
      virDomainUndefine(all[i]);
      virDomainFree(all[i]);
    }
    free(all);
    return c;
  }();
  return conn;
}

// TVD_FUZZ_VERBOSE=1 says what became of each input (to see that the seeds
// reach libvirt, so the property is checked on them, not vacuously true).
void Note(const char* what, const std::string& detail) {
  static const bool verbose = std::getenv("TVD_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s: %s\n", what, detail.c_str());
}

[[noreturn]] void Fail(const std::string& input, const std::string& confined,
                       const std::string& stored,
                       const std::vector<std::string>& violations) {
  std::fprintf(stderr,
               "CONFINEMENT VIOLATION\n--- input ---\n%s\n--- confined ---\n"
               "%s\n--- stored by libvirt ---\n%s\n--- violations ---\n",
               input.c_str(), confined.c_str(), stored.c_str());
  for (const std::string& v : violations)
    std::fprintf(stderr, "%s\n", v.c_str());
  std::abort();
}

// TVD_FUZZ_KEEP_GOING=1 prints each violation as one "VIOLATION ..." line
// and goes on, to survey every kind a run finds (never set in CI).
bool KeepGoing(const std::vector<std::string>& violations) {
  static const bool keep_going = std::getenv("TVD_FUZZ_KEEP_GOING") != nullptr;
  if (!keep_going) return false;
  for (const std::string& v : violations) {
    std::fprintf(stderr, "VIOLATION %s\n", v.c_str());
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  tvd::StatusOr<ConfinedDomain> confined =
      ConfineDomainXml(input, Scope(input.find("vnc") != std::string::npos
                                        ? GraphicsPolicy::kVnc
                                        : GraphicsPolicy::kSpice));
  if (!confined.ok()) {
    Note("refused by the confinement", confined.status().ToString());
    return 0;
  }
  virConnectPtr conn = Connection();
  std::string define = ForTestDriver(confined->xml);
  virDomainPtr dom = virDomainDefineXML(conn, define.c_str());
  if (dom == nullptr) {  // libvirt refused it: nothing stored
    const char* why = virGetLastErrorMessage();
    Note("refused by libvirt", why != nullptr ? why : "");
    return 0;
  }
  char* xml =
      virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  std::string stored = xml != nullptr ? xml : "";
  free(xml);
  if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                      VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                      VIR_DOMAIN_UNDEFINE_NVRAM) != 0) {
    virDomainUndefine(dom);
  }
  virDomainFree(dom);
  if (stored.empty()) {
    Fail(input, define, stored, {"libvirt stored the domain but gave no XML"});
  }
  std::vector<std::string> violations = StoredViolations(stored);
  if (!violations.empty() && !KeepGoing(violations)) {
    Fail(input, define, stored, violations);
  }
  Note("stored and clean", confined->name);
  return 0;
}

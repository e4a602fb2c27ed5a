// The allowlist of tenant domain XML: every element the relay forwards, with
// its attributes, its text, how often it may appear under its parent, and
// why it cannot reach the host. docs/libvirt-filter.md carries the same
// table (DomainXmlAllowlistMarkdown; domain_xml_test checks they agree).
//
// What is absent is refused. Deliberately absent, among others: sysinfo,
// memoryBacking, numatune/cputune/blkiotune, resource, seclabel (at every
// level), keywrap, launchSecurity, idmap, maxMemory, cpu/numa, os/acpi,
// bootloader, and the devices hostdev, filesystem, smartcard, hub,
// parallel, lease, shmem, memory (nvdimm/virtio-mem), tpm (vTPMs come from
// the proxy only: a tenant's <tpm> could name another VM's secret), vsock,
// iommu, crypto, audio, redirfilter, nvram; disk snapshots, transient disks,
// shareable disks, backing stores with content, <auth> and <encryption>
// (the proxy sets secrets); NIC targets, scripts, virtualport, vlan,
// bandwidth, filterref, tune, backend and rom; graphics websockets, GL and
// socket listens.
#include <unordered_map>

#include "domain_xml_rules.h"

namespace tvd::libvirt_filter::internal {

namespace {

ValueRule OneOf(std::initializer_list<std::string_view> words) {
  return {ValueKind::kOneOf, words, 0};
}
ValueRule Unsigned(std::uint64_t max) {
  return {ValueKind::kUnsigned, {}, max};
}
ValueRule Number(std::uint64_t max) { return {ValueKind::kNumber, {}, max}; }
ValueRule Name(std::uint64_t max = 64) { return {ValueKind::kName, {}, max}; }
ValueRule Line(std::uint64_t max) { return {ValueKind::kLine, {}, max}; }
ValueRule Of(ValueKind kind) { return {kind, {}, 0}; }

const ValueRule kYesNo = OneOf({"yes", "no"});
const ValueRule kOnOff = OneOf({"on", "off"});
const ValueRule kMemoryUnit =
    OneOf({"b", "bytes", "KB", "k", "KiB", "MB", "M", "MiB", "GB", "G", "GiB",
           "TB", "T", "TiB"});
const ValueRule kLifecycle =
    OneOf({"destroy", "restart", "preserve", "rename-restart"});

constexpr std::string_view kGuestOnly =
    "guest-visible setting of the virtual machine; names nothing on the host";
constexpr std::string_view kAddress =
    "guest bus address of the device; names nothing on the host";
constexpr std::string_view kAlias =
    "the device's name inside libvirt (user aliases start with 'ua-')";
constexpr std::string_view kBoot = "guest boot order";
constexpr std::string_view kStoragePathWhy =
    "a file inside the TVD's storage directory, which holds only the "
    "tenant's own images";
constexpr std::string_view kContainer =
    "container element; its children are checked one by one";

ElementRule E(std::string path, int max, std::vector<AttributeRule> attributes,
              std::string_view why, Check check = Check::kNone) {
  ElementRule r;
  r.path = std::move(path);
  r.max = max;
  r.attributes = std::move(attributes);
  r.why = why;
  r.check = check;
  return r;
}

ElementRule T(std::string path, int max, std::vector<AttributeRule> attributes,
              ValueRule text, std::string_view why,
              Check check = Check::kNone) {
  ElementRule r = E(std::move(path), max, std::move(attributes), why, check);
  r.has_text = true;
  r.text = std::move(text);
  return r;
}

std::vector<AttributeRule> AddressAttributes() {
  return {{"type", OneOf({"pci", "drive", "usb", "virtio-serial", "isa"})},
          {"domain", Number(0xffff)},
          {"bus", Number(0xffff)},
          {"slot", Number(0x1f)},
          {"function", Number(7)},
          {"multifunction", kOnOff},
          {"controller", Number(0xffff)},
          {"target", Number(0xffff)},
          {"unit", Number(0xffff)},
          {"port", Name(16)},
          {"iobase", Number(0xffff)},
          {"irq", Number(0xff)}};
}

// <address>, <alias> and optionally <boot> under `device`.
void AddDeviceParts(std::vector<ElementRule>& r, const std::string& device,
                    bool boot) {
  r.push_back(E(device + "/address", 1, AddressAttributes(), kAddress));
  // The docs list the attributes once, at the first device.
  if (device != "/domain/devices/disk") {
    r.back().attributes_doc = "as `/domain/devices/disk/address`";
  }
  r.push_back(
      E(device + "/alias", 1, {{"name", Of(ValueKind::kUserAlias)}}, kAlias));
  if (boot) {
    r.push_back(E(device + "/boot", 1, {{"order", Unsigned(64)}}, kBoot));
  }
}

std::vector<ElementRule> BuildRules() {
  std::vector<ElementRule> r;
  const std::string d = "/domain";
  r.push_back(E(d, 1, {{"type", OneOf({"kvm", "qemu", "test"})}},
                "the hypervisor type; 'test' only means anything to libvirt's "
                "test driver"));
  r.push_back(T(d + "/name", 1, {}, Line(200),
                "the domain's name (the relay checks it is not another "
                "tenant's)"));
  r.push_back(T(d + "/uuid", 1, {}, Line(36),
                "the domain's UUID (8-4-4-4-12; the relay checks it is not "
                "another tenant's)"));
  r.push_back(T(d + "/title", 1, {}, Line(256), "a label, stored only"));
  r.push_back(T(d + "/description", 1, {}, ValueRule{ValueKind::kAny, {}, 4096},
                "a label, stored only"));
  r.push_back(E(d + "/metadata", 1, {},
                "children in other namespaces (e.g. libosinfo's) are opaque "
                "to libvirt and QEMU; the TVD element is written by the relay "
                "only",
                Check::kMetadata));
  r.push_back(T(d + "/memory", 1, {{"unit", kMemoryUnit}}, Unsigned(1ull << 50),
                "guest RAM size (no host file backing)"));
  r.push_back(T(d + "/currentMemory", 1, {{"unit", kMemoryUnit}},
                Unsigned(1ull << 50), "guest RAM size"));
  r.push_back(T(d + "/vcpu", 1,
                {{"placement", OneOf({"static"})}, {"current", Unsigned(4096)}},
                Unsigned(4096),
                "number of guest CPUs; no cpuset, so no choice of host CPUs"));
  r.push_back(T(d + "/iothreads", 1, {}, Unsigned(64),
                "number of QEMU I/O threads, not pinned to host CPUs"));

  // <os>
  const std::string os = d + "/os";
  r.push_back(E(os, 1, {{"firmware", OneOf({"efi", "bios"})}},
                "boot settings; firmware='efi' lets libvirt pick the host's "
                "own firmware files"));
  r.push_back(T(os + "/type", 1,
                {{"arch", OneOf({"x86_64", "i686"})}, {"machine", Name(64)}},
                OneOf({"hvm"}), "guest architecture and machine type"));
  r.push_back(E(os + "/firmware", 1, {}, kContainer));
  r.push_back(E(
      os + "/firmware/feature", 2,
      {{"enabled", kYesNo}, {"name", OneOf({"enrolled-keys", "secure-boot"})}},
      "which of the host's firmware images libvirt picks"));
  r.push_back(E(os + "/boot", 4,
                {{"dev", OneOf({"hd", "cdrom", "network", "fd"})}},
                kGuestOnly));
  r.push_back(E(os + "/bootmenu", 1,
                {{"enable", kYesNo}, {"timeout", Unsigned(65535)}},
                kGuestOnly));
  r.push_back(E(os + "/bios", 1,
                {{"useserial", kYesNo}, {"rebootTimeout", Unsigned(65535)}},
                kGuestOnly));
  r.push_back(E(os + "/smbios", 1, {{"mode", OneOf({"emulate"})}},
                "libvirt's generic SMBIOS tables, never the host's"));
  r.push_back(
      T(os + "/kernel", 1, {}, Of(ValueKind::kStoragePath), kStoragePathWhy));
  r.push_back(
      T(os + "/initrd", 1, {}, Of(ValueKind::kStoragePath), kStoragePathWhy));
  r.push_back(
      T(os + "/dtb", 1, {}, Of(ValueKind::kStoragePath), kStoragePathWhy));
  r.push_back(
      T(os + "/cmdline", 1, {}, Line(4096), "the guest kernel's command line"));
  r.push_back(T(os + "/loader", 1,
                {{"readonly", kYesNo},
                 {"type", OneOf({"rom", "pflash"})},
                 {"secure", kYesNo}},
                Of(ValueKind::kStoragePath), kStoragePathWhy));
  r.push_back(T(os + "/nvram", 1, {{"template", Of(ValueKind::kStoragePath)}},
                Of(ValueKind::kStoragePath), kStoragePathWhy));

  // <features>
  const std::string f = d + "/features";
  r.push_back(E(f, 1, {}, kContainer));
  for (const char* name : {"acpi", "pae", "hap", "pvspinlock", "vmcoreinfo",
                           "smm", "vmport", "htm"}) {
    r.push_back(E(f + "/" + name, 1, {{"state", kOnOff}}, kGuestOnly));
  }
  r.push_back(E(f + "/apic", 1, {{"eoi", kOnOff}}, kGuestOnly));
  r.push_back(
      E(f + "/ioapic", 1, {{"driver", OneOf({"kvm", "qemu"})}}, kGuestOnly));
  r.push_back(E(f + "/kvm", 1, {}, kContainer));
  for (const char* name :
       {"hidden", "hint-dedicated", "poll-control", "pv-ipi"}) {
    r.push_back(E(f + "/kvm/" + name, 1, {{"state", kOnOff}}, kGuestOnly));
  }
  r.push_back(E(f + "/hyperv", 1, {{"mode", OneOf({"custom", "passthrough"})}},
                "Hyper-V enlightenments presented to the guest"));
  for (const char* name :
       {"relaxed", "vapic", "vpindex", "runtime", "synic", "reset",
        "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic"}) {
    r.push_back(E(f + "/hyperv/" + name, 1, {{"state", kOnOff}}, kGuestOnly));
  }
  r.push_back(E(f + "/hyperv/spinlocks", 1,
                {{"state", kOnOff}, {"retries", Unsigned(1u << 30)}},
                kGuestOnly));
  r.push_back(E(f + "/hyperv/stimer", 1, {{"state", kOnOff}}, kGuestOnly));
  r.push_back(
      E(f + "/hyperv/stimer/direct", 1, {{"state", kOnOff}}, kGuestOnly));
  r.push_back(E(f + "/hyperv/vendor_id", 1,
                {{"state", kOnOff}, {"value", Name(12)}}, kGuestOnly));

  // <cpu>
  const std::string cpu = d + "/cpu";
  r.push_back(E(
      cpu, 1,
      {{"mode", OneOf({"host-model", "host-passthrough", "custom", "maximum"})},
       {"match", OneOf({"minimum", "exact", "strict"})},
       {"check", OneOf({"none", "partial", "full"})},
       {"migratable", kOnOff}},
      "the CPU model the guest sees; no NUMA cells, so no shared "
      "or host-placed memory"));
  r.push_back(T(cpu + "/model", 1, {{"fallback", OneOf({"allow", "forbid"})}},
                Name(64), kGuestOnly));
  r.push_back(T(cpu + "/vendor", 1, {}, Name(32), kGuestOnly));
  r.push_back(E(cpu + "/topology", 1,
                {{"sockets", Unsigned(4096)},
                 {"dies", Unsigned(4096)},
                 {"clusters", Unsigned(4096)},
                 {"cores", Unsigned(4096)},
                 {"threads", Unsigned(4096)}},
                kGuestOnly));
  r.push_back(E(
      cpu + "/feature", 128,
      {{"policy", OneOf({"force", "require", "optional", "disable", "forbid"})},
       {"name", Name(64)}},
      kGuestOnly));
  r.push_back(E(cpu + "/cache", 1,
                {{"level", Unsigned(3)},
                 {"mode", OneOf({"emulate", "passthrough", "disable"})}},
                kGuestOnly));

  // <clock>
  r.push_back(E(d + "/clock", 1, {{"offset", OneOf({"utc", "localtime"})}},
                "the guest's clock offset (never the host's clock)"));
  r.push_back(
      E(d + "/clock/timer", 8,
        {{"name", OneOf({"platform", "pit", "rtc", "hpet", "tsc", "kvmclock",
                         "hypervclock"})},
         {"tickpolicy", OneOf({"delay", "catchup", "merge", "discard"})},
         {"track", OneOf({"boot", "guest", "wall", "realtime"})},
         {"present", kYesNo}},
        kGuestOnly));

  for (const char* name : {"on_poweroff", "on_reboot", "on_crash"}) {
    r.push_back(T(d + "/" + name, 1, {}, kLifecycle,
                  "what libvirt does when the guest stops; no coredump-* "
                  "(that writes host files)"));
  }
  r.push_back(E(d + "/pm", 1, {}, kContainer));
  r.push_back(
      E(d + "/pm/suspend-to-mem", 1, {{"enabled", kYesNo}}, kGuestOnly));
  r.push_back(
      E(d + "/pm/suspend-to-disk", 1, {{"enabled", kYesNo}}, kGuestOnly));

  // <devices>
  const std::string dev = d + "/devices";
  r.push_back(E(dev, 1, {}, kContainer));
  r.push_back(T(dev + "/emulator", 1, {}, Line(4096),
                "must be the host's default emulator, which the relay writes "
                "itself",
                Check::kEmulator));

  // Disks: files in the TVD storage, format pinned.
  const std::string disk = dev + "/disk";
  r.push_back(
      E(disk, 32,
        {{"type", OneOf({"file"})}, {"device", OneOf({"disk", "cdrom"})}},
        "a file image; disks are qcow2, CD-ROMs raw and read-only "
        "(the relay writes the CD-ROM's format itself)",
        Check::kDisk));
  r.push_back(
      E(disk + "/driver", 1,
        {{"name", OneOf({"qemu"})},
         {"type", OneOf({"qcow2", "raw"})},
         {"cache", OneOf({"default", "none", "writethrough", "writeback",
                          "directsync", "unsafe"})},
         {"io", OneOf({"threads", "native", "io_uring"})},
         {"discard", OneOf({"unmap", "ignore"})},
         {"detect_zeroes", OneOf({"off", "on", "unmap"})},
         {"error_policy", OneOf({"stop", "report", "ignore", "enospace"})},
         {"rerror_policy", OneOf({"stop", "report", "ignore"})},
         {"copy_on_read", kOnOff},
         {"iothread", Unsigned(64)},
         {"queues", Unsigned(64)}},
        "how QEMU opens the image; the format is pinned (qcow2 for "
        "disks, raw for CD-ROMs)"));
  r.push_back(
      E(disk + "/source", 1,
        {{"file", Of(ValueKind::kStoragePath)},
         {"startupPolicy", OneOf({"mandatory", "requisite", "optional"})}},
        kStoragePathWhy));
  r.push_back(E(disk + "/backingStore", 1, {},
                "only empty (no backing chain); the image header is checked "
                "before start"));
  r.push_back(E(disk + "/target", 1,
                {{"dev", Name(8)},
                 {"bus", OneOf({"virtio", "sata", "scsi", "usb", "ide"})},
                 {"removable", kOnOff},
                 {"tray", OneOf({"open", "closed"})}},
                "the guest's device name and bus"));
  r.push_back(E(disk + "/readonly", 1, {}, kGuestOnly));
  r.push_back(T(disk + "/serial", 1, {}, ValueRule{ValueKind::kSerial, {}, 36},
                "the serial number the guest sees"));
  AddDeviceParts(r, disk, true);

  // NICs: TVD networks only; tap names and plugging belong to the proxy.
  const std::string nic = dev + "/interface";
  r.push_back(E(nic, 16, {{"type", OneOf({"network", "ethernet"})}},
                "a NIC on a TVD network, or a tap (named by libvirt) that "
                "only the proxy plugs; no bridge, host device, VLAN or "
                "virtualport choice",
                Check::kInterface));
  r.push_back(E(nic + "/source", 1, {{"network", Of(ValueKind::kTvdNetwork)}},
                "one of the TVD's networks (type='network' only)"));
  r.push_back(
      E(nic + "/mac", 1, {{"address", Of(ValueKind::kMac)}}, kGuestOnly));
  r.push_back(E(nic + "/model", 1,
                {{"type", OneOf({"virtio", "e1000", "e1000e", "rtl8139"})}},
                kGuestOnly));
  r.push_back(E(nic + "/driver", 1,
                {{"name", OneOf({"vhost", "qemu"})}, {"queues", Unsigned(16)}},
                "QEMU's or the kernel's virtio back end for the same tap"));
  r.push_back(
      E(nic + "/link", 1, {{"state", OneOf({"up", "down"})}}, kGuestOnly));
  AddDeviceParts(r, nic, true);

  // Controllers.
  const std::string ctl = dev + "/controller";
  r.push_back(E(
      ctl, 64,
      {{"type", OneOf({"usb", "pci", "virtio-serial", "scsi", "sata", "ide"})},
       {"index", Unsigned(255)},
       {"model", OneOf({"piix3-uhci",
                        "piix4-uhci",
                        "ehci",
                        "ich9-ehci1",
                        "ich9-uhci1",
                        "ich9-uhci2",
                        "ich9-uhci3",
                        "pci-ohci",
                        "nec-xhci",
                        "qemu-xhci",
                        "none",
                        "pci-root",
                        "pcie-root",
                        "pci-bridge",
                        "dmi-to-pci-bridge",
                        "pcie-root-port",
                        "pcie-switch-upstream-port",
                        "pcie-switch-downstream-port",
                        "pcie-to-pci-bridge",
                        "virtio-scsi",
                        "lsilogic",
                        "lsisas1068",
                        "lsisas1078",
                        "virtio",
                        "virtio-transitional",
                        "virtio-non-transitional"})},
       {"ports", Unsigned(32)},
       {"vectors", Unsigned(1024)}},
      "an emulated bus controller"));
  r.push_back(E(ctl + "/master", 1, {{"startport", Unsigned(16)}}, kGuestOnly));
  r.push_back(E(ctl + "/model", 1, {{"name", Name(32)}}, kGuestOnly));
  r.push_back(E(ctl + "/target", 1,
                {{"chassis", Unsigned(255)},
                 {"port", Number(0xff)},
                 {"busNr", Unsigned(255)},
                 {"hotplug", kOnOff}},
                kGuestOnly));
  r.push_back(E(ctl + "/driver", 1,
                {{"queues", Unsigned(64)}, {"iothread", Unsigned(64)}},
                kGuestOnly));
  AddDeviceParts(r, ctl, false);

  // Character devices: pseudo-terminals only (libvirt allocates them).
  r.push_back(E(dev + "/console", 4, {{"type", OneOf({"pty"})}},
                "a pseudo-terminal libvirt allocates; no host file, device "
                "or socket"));
  r.push_back(E(dev + "/console/target", 1,
                {{"type", OneOf({"serial", "virtio"})}, {"port", Unsigned(3)}},
                kGuestOnly));
  r.push_back(E(dev + "/console/alias", 1,
                {{"name", Of(ValueKind::kUserAlias)}}, kAlias));
  r.push_back(E(dev + "/serial", 4, {{"type", OneOf({"pty"})}},
                "a pseudo-terminal libvirt allocates; no host file, device "
                "or socket"));
  r.push_back(E(dev + "/serial/target", 1,
                {{"type", OneOf({"isa-serial", "usb-serial", "pci-serial"})},
                 {"port", Unsigned(3)}},
                kGuestOnly));
  r.push_back(E(dev + "/serial/target/model", 1,
                {{"name", OneOf({"isa-serial", "usb-serial", "pci-serial"})}},
                kGuestOnly));
  AddDeviceParts(r, dev + "/serial", false);
  r.push_back(E(dev + "/channel", 8, {{"type", OneOf({"unix", "spicevmc"})}},
                "the guest agent's socket, whose path libvirt chooses, or "
                "SPICE's agent channel when the host allows SPICE",
                Check::kChannel));
  r.push_back(E(dev + "/channel/source", 1, {{"mode", OneOf({"bind"})}},
                "only mode='bind' without a path (libvirt picks the path)"));
  r.push_back(
      E(dev + "/channel/target", 1,
        {{"type", OneOf({"virtio"})},
         {"name", OneOf({"org.qemu.guest_agent.0", "com.redhat.spice.0"})}},
        kGuestOnly));
  AddDeviceParts(r, dev + "/channel", false);

  // Input: emulated devices only.
  r.push_back(E(dev + "/input", 8,
                {{"type", OneOf({"tablet", "mouse", "keyboard"})},
                 {"bus", OneOf({"usb", "ps2", "virtio"})}},
                "an emulated input device fed by the console; no `<source>` "
                "(no host evdev or passthrough)"));
  AddDeviceParts(r, dev + "/input", false);

  // Graphics: as the host allows, loopback only.
  const std::string gfx = dev + "/graphics";
  r.push_back(E(gfx, 1,
                {{"type", OneOf({"vnc", "spice"})},
                 {"port", OneOf({"-1"})},
                 {"tlsPort", OneOf({"-1"})},
                 {"autoport", OneOf({"yes"})},
                 {"listen", Of(ValueKind::kLoopback)},
                 {"passwd", Line(64)},
                 {"keymap", Name(16)},
                 {"defaultMode", OneOf({"any", "secure", "insecure"})}},
                "only the console type the host's policy allows, on a "
                "loopback port libvirt picks",
                Check::kGraphics));
  r.push_back(E(gfx + "/listen", 1,
                {{"type", OneOf({"address", "none"})},
                 {"address", Of(ValueKind::kLoopback)}},
                "loopback only; never a host socket path or a host network"));
  r.push_back(E(gfx + "/image", 1,
                {{"compression",
                  OneOf({"auto_glz", "auto_lz", "quic", "glz", "lz", "off"})}},
                kGuestOnly));
  for (const char* name : {"jpeg", "zlib", "playback"}) {
    r.push_back(
        E(gfx + "/" + name, 1,
          {{"compression", OneOf({"auto", "never", "always", "on", "off"})}},
          kGuestOnly));
  }
  r.push_back(E(gfx + "/streaming", 1,
                {{"mode", OneOf({"filter", "all", "off"})}}, kGuestOnly));
  r.push_back(E(gfx + "/mouse", 1, {{"mode", OneOf({"server", "client"})}},
                kGuestOnly));
  r.push_back(E(gfx + "/clipboard", 1, {{"copypaste", kYesNo}}, kGuestOnly));
  r.push_back(E(gfx + "/filetransfer", 1, {{"enable", kYesNo}}, kGuestOnly));

  r.push_back(E(dev + "/video", 4, {}, kContainer));
  r.push_back(
      E(dev + "/video/model", 1,
        {{"type", OneOf({"vga", "virtio", "qxl", "cirrus", "bochs", "none"})},
         {"ram", Unsigned(1u << 20)},
         {"vram", Unsigned(1u << 20)},
         {"vram64", Unsigned(1u << 24)},
         {"vgamem", Unsigned(1u << 20)},
         {"heads", Unsigned(16)},
         {"primary", kYesNo}},
        "an emulated display adapter; no `<acceleration>` (no host "
        "GPU)"));
  AddDeviceParts(r, dev + "/video", false);

  r.push_back(E(dev + "/sound", 2,
                {{"model", OneOf({"ich6", "ich9", "ac97", "ich7"})}},
                "an emulated sound card, heard through the console only"));
  AddDeviceParts(r, dev + "/sound", false);

  r.push_back(E(dev + "/redirdev", 4,
                {{"bus", OneOf({"usb"})}, {"type", OneOf({"spicevmc"})}},
                "USB devices of the SPICE client's machine (never the "
                "host's), when the host allows SPICE",
                Check::kRedirdev));
  AddDeviceParts(r, dev + "/redirdev", true);

  r.push_back(E(dev + "/memballoon", 1,
                {{"model", OneOf({"virtio", "none"})},
                 {"autodeflate", kOnOff},
                 {"freePageReporting", kOnOff}},
                kGuestOnly));
  r.push_back(E(dev + "/memballoon/stats", 1, {{"period", Unsigned(3600)}},
                kGuestOnly));
  AddDeviceParts(r, dev + "/memballoon", false);

  r.push_back(E(dev + "/rng", 1, {{"model", OneOf({"virtio"})}},
                "entropy from the host's /dev/urandom, nothing else"));
  r.push_back(T(dev + "/rng/backend", 1, {{"model", OneOf({"random"})}},
                Of(ValueKind::kAny), "empty or /dev/urandom", Check::kRng));
  r.push_back(E(dev + "/rng/rate", 1,
                {{"bytes", Unsigned(1u << 30)}, {"period", Unsigned(1u << 30)}},
                kGuestOnly));
  AddDeviceParts(r, dev + "/rng", false);

  r.push_back(E(dev + "/watchdog", 1,
                {{"model", OneOf({"i6300esb", "ib700"})},
                 {"action", OneOf({"reset", "shutdown", "poweroff", "pause",
                                   "none", "inject-nmi"})}},
                "an emulated watchdog; no action='dump' (that writes host "
                "files)"));
  AddDeviceParts(r, dev + "/watchdog", false);

  r.push_back(E(dev + "/panic", 1,
                {{"model", OneOf({"isa", "pvpanic", "hyperv"})}},
                "the guest reports a crash to libvirt"));
  r.push_back(E(dev + "/panic/address", 1, AddressAttributes(), kAddress));
  r.back().attributes_doc = "as `/domain/devices/disk/address`";
  return r;
}

}  // namespace

const std::vector<ElementRule>& DomainXmlRules() {
  static const std::vector<ElementRule> rules = BuildRules();
  return rules;
}

const ElementRule* FindDomainXmlRule(std::string_view path) {
  static const std::unordered_map<std::string_view, const ElementRule*> index =
      [] {
        std::unordered_map<std::string_view, const ElementRule*> m;
        for (const ElementRule& r : DomainXmlRules()) m.emplace(r.path, &r);
        return m;
      }();
  auto it = index.find(path);
  return it == index.end() ? nullptr : it->second;
}

std::string DescribeValueRule(const ValueRule& rule) {
  switch (rule.kind) {
    case ValueKind::kAny:
      return rule.max > 0 ? "text (" + std::to_string(rule.max) + " chars)"
                          : "text";
    case ValueKind::kLine:
      return "one line (" + std::to_string(rule.max) + " chars)";
    case ValueKind::kOneOf: {
      std::string s;
      for (std::string_view w : rule.words) {
        if (!s.empty()) s += "\\|";
        s += w;
      }
      return s;
    }
    case ValueKind::kUnsigned:
      return "0.." + std::to_string(rule.max);
    case ValueKind::kNumber:
      return "0.." + std::to_string(rule.max) + " (or 0x hex)";
    case ValueKind::kName:
      return "name (" + std::to_string(rule.max) + " chars)";
    case ValueKind::kStoragePath:
      return "path in the TVD storage";
    case ValueKind::kMac:
      return "MAC address";
    case ValueKind::kLoopback:
      return "127.0.0.1\\|::1";
    case ValueKind::kUserAlias:
      return "ua-NAME";
    case ValueKind::kSerial:
      return "[A-Za-z0-9_-] (" + std::to_string(rule.max) + " chars)";
    case ValueKind::kTvdNetwork:
      return "a TVD network";
    case ValueKind::kEmpty:
      return "empty";
  }
  return "";
}

}  // namespace tvd::libvirt_filter::internal

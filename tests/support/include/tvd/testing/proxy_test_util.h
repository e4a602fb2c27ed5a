// Test helpers for the proxy: a VM on disk (kernel, initrd, disk image,
// final VM configuration with its measures) and a TVD policy whose
// known-good values are that VM's real digests.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tvd/policy/tvd_policy.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/sha256.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::proxy::testing {

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// The proxy tests' temporary directories: /tmp/tvd-proxy-test-PID-XXXXXX.
class TempDir : public ::tvd::testing::TempDir {
 public:
  TempDir() : ::tvd::testing::TempDir("proxy-test") {}
};

struct TestVm {
  std::string name;
  std::string tvd;
  std::string kernel, initrd, disk;  // paths
  std::string mac = "52:54:00:00:00:01";
  std::string port;        // host interface name
  std::string network;     // TVD network of the NIC
  bool encrypted = false;  // vda is encrypted (and measured)
  // When set: an encrypted vdb at this path, which the proxy creates
  // (create-mib 8) when missing.
  std::string new_disk;
  bool vtpm = false;  // <tvd:vtpm/>, and the policy gives it one
  std::string uuid;   // the domain's <uuid>; empty: none
  std::string config_path;
  policy::VmKnownGood known_good;
};

inline std::string DomainXml(const TestVm& vm, const std::string& measures) {
  return "<domain type='test'>\n"
         "  <name>" +
         vm.name + "</name>\n" +
         (vm.uuid.empty() ? "" : "  <uuid>" + vm.uuid + "</uuid>\n") +
         "  <memory unit='MiB'>64</memory>\n"
         "  <os><type>hvm</type><kernel>" +
         vm.kernel + "</kernel><initrd>" + vm.initrd +
         "</initrd></os>\n"
         "  <devices>\n"
         "    <disk type='file' device='disk'><source file='" +
         vm.disk + "'/><target dev='vda' bus='virtio'/></disk>\n" +
         (vm.new_disk.empty()
              ? std::string()
              : "    <disk type='file' device='disk'><driver name='qemu' "
                "type='qcow2'/><source file='" +
                    vm.new_disk +
                    "'/><target dev='vdb' bus='virtio'/></disk>\n") +
         "    <interface type='ethernet'><mac address='" + vm.mac +
         "'/><target dev='" + vm.port +
         "'/></interface>\n"
         "  </devices>\n"
         "  <metadata>\n"
         "    <tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='" +
         vm.tvd + "'>\n" + measures +
         (vm.encrypted ? "      <tvd:encryption type='disk' target='vda'/>\n"
                       : "") +
         (vm.new_disk.empty() ? ""
                              : "      <tvd:encryption type='disk' "
                                "target='vdb' create-mib='8'/>\n") +
         (vm.vtpm ? "      <tvd:vtpm/>\n" : "") + "      <tvd:vnet target='" +
         vm.port + "' network='" + vm.network +
         "'/>\n"
         "    </tvd:tvd>\n"
         "  </metadata>\n"
         "</domain>\n";
}

// Writes kernel/initrd/disk files and the final VM configuration into
// `dir`, and fills vm.known_good with their real digests.
inline TestVm MakeVm(const std::string& dir, const std::string& name,
                     const std::string& tvd, const std::string& network,
                     const std::string& port, bool encrypted = false,
                     const std::string& new_disk = "", bool vtpm = false,
                     const std::string& uuid = "") {
  TestVm vm;
  vm.new_disk = new_disk;
  vm.vtpm = vtpm;
  vm.uuid = uuid;
  vm.name = name;
  vm.tvd = tvd;
  vm.network = network;
  vm.port = port;
  vm.encrypted = encrypted;
  vm.kernel = dir + "/" + name + "-vmlinuz";
  vm.initrd = dir + "/" + name + "-initrd";
  vm.disk = dir + "/" + name + "-disk.img";
  WriteFile(vm.kernel, "kernel of " + name);
  WriteFile(vm.initrd, "initrd of " + name);
  WriteFile(vm.disk, std::string(200000, 'd') + name);
  auto hex = [](const std::string& p) { return ToHex(*Sha256File(p)); };
  std::string file_measures =
      "      <tvd:measure type='kernel' sha256='" + hex(vm.kernel) +
      "'/>\n"
      "      <tvd:measure type='initrd' sha256='" +
      hex(vm.initrd) +
      "'/>\n"
      "      <tvd:measure type='disk' target='vda' sha256='" +
      hex(vm.disk) + "'/>\n";
  // The config measure covers the domain without metadata, so it can be
  // computed from a version without it and added afterwards.
  auto parsed = policy::ParseVmConfig(DomainXml(vm, file_measures), "test",
                                      policy::VmConfigMode::kFinal);
  std::string config_hex = ToHex(parsed->ConfigDigest());
  std::string measures = "      <tvd:measure type='config' sha256='" +
                         config_hex + "'/>\n" + file_measures;
  vm.config_path = dir + "/" + name + ".xml";
  WriteFile(vm.config_path, DomainXml(vm, measures));
  auto final_vm =
      policy::LoadVmConfigFile(vm.config_path, policy::VmConfigMode::kFinal);
  vm.known_good.vm = name;
  vm.known_good.measures = final_vm->tvd.measures;
  return vm;
}

inline policy::TvdPolicy MakePolicy(const std::string& name, std::uint32_t id,
                                    const std::vector<TestVm>& vms) {
  policy::TvdPolicy p;
  p.name = name;
  p.id = id;
  p.owner = "CN=" + name + "-tenant";
  p.networks.push_back(
      {name + "-data", policy::NetworkKind::kData, 1000 + id, std::nullopt});
  p.transport = {"aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256"};
  p.host_requirements.allow_no_tpm = true;
  p.host_requirements.attestation_interval_seconds = 60;
  p.authorized_hosts = {"CN=host-a"};
  for (const TestVm& vm : vms) {
    p.vms.push_back(vm.known_good);
    if (vm.encrypted || !vm.new_disk.empty()) p.disk_key_vms.push_back(vm.name);
    if (vm.vtpm) p.vtpm_vms.push_back(vm.name);
  }
  return p;
}

}  // namespace tvd::proxy::testing

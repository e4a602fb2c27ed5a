// A test host for real guests driven by the real TvdProxy: its own Open
// vSwitch and charon in a network namespace, a private libvirtd running
// the QEMU driver in that namespace, and proxies whose master is the unit
// tests' FakeMaster. Guests are the image testbed/guest/build-guest.sh
// builds; libvirt creates each NIC's tap (<interface type='ethernet'>) and
// the proxy plugs it into OVS. Shared by the guest tests of this folder.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "guest_util.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/libvirt_hypervisor.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/testing/charon.h"
#include "tvd/testing/libvirtd.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_host_network.h"
#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy::testing {

inline constexpr char kGuestBridge[] = "br-tvd";

struct Guest {
  // name, tvd, port (the NIC's name in the configuration), mac, network,
  // config_path, known_good
  TestVm vm;
  // The host tap the proxy names for the NIC (TapName), as the attach
  // result reports it; empty before the attach.
  std::string tap;
  std::string ip;
  std::string socket;  // the serial console (guest-exec)
  // A LUKS-encrypted qcow2 attached as vdb and declared encrypted in the
  // TVD metadata (empty: none).
  std::string encrypted_disk;
  // When non-zero, its <tvd:encryption create-mib>: the proxy creates the
  // disk with this size when it is missing.
  std::uint64_t create_mib = 0;
  // <tvd:vtpm/>: the proxy gives the guest a vTPM (vm.vtpm: the policy
  // MakePolicy writes gives it one).
  bool vtpm = false;
};

// The domain XML of a guest; `measures` are <tvd:measure> lines.
std::string GuestXml(const Guest& g, const tvd::testing::GuestImage& image,
                     const std::string& measures);

// Writes the guest's final VM configuration (with the real digests of the
// image files and of the configuration) and fills its known-good values.
Guest MakeGuest(const std::string& dir, const tvd::testing::GuestImage& image,
                const std::string& name, const std::string& tvd,
                const std::string& port, const std::string& mac,
                const std::string& ip, const std::string& encrypted_disk = "",
                std::uint64_t create_mib = 0, bool vtpm = false);

class GuestHostTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  // A proxy of `tvd` on the test host, talking to `master`; its admission
  // record is in the test's directory. With `vtpms` (on VtpmStorageDir()),
  // it gives VMs with <tvd:vtpm/> their vTPM.
  std::unique_ptr<TvdProxy> NewProxy(const std::string& tvd, FakeMaster& master,
                                     VtpmStates* vtpms = nullptr);
  // libvirtd's swtpm storage directory as the test sees it.
  static std::string VtpmStorageDir();
  // Names of every domain libvirtd has, sorted.
  std::vector<std::string> Domains();
  bool TapExists(const std::string& name);
  // Names of the OVS ports the proxies created for VMs (CSV lines).
  std::string VmPorts();

  static tvd::testing::GuestImage* image_;
  static tvd::testing::TestHost* host_;
  static tvd::testing::CharonInstance* charon_;
  static tvd::testing::LibvirtdInstance* libvirtd_;

  TempDir dir_;
  std::unique_ptr<LibvirtHypervisor> hypervisor_;
  std::unique_ptr<tvd::testing::ProxyHostNetwork> network_;
  MeasurementCache cache_;
  // Admission stores by TVD (they outlive the proxies).
  std::map<std::string, std::unique_ptr<FileAdmissionStore>> stores_;
  std::unique_ptr<TvdProxy> blue_proxy_;
  std::unique_ptr<TvdProxy> red_proxy_;
};

}  // namespace tvd::proxy::testing

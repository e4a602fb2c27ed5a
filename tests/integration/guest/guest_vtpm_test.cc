// A vTPM per TVD VM with a real guest (issue 16; GuestHostTest: real
// libvirtd with QEMU and swtpm, the real TvdProxy, the FakeMaster releasing
// the VM's vTPM state key): the proxy makes the vTPM's state before the
// first start, libvirt's swtpm runs on it with the released key (an
// ephemeral, private secret of usage type vtpm) and the guest boots with a
// tpm-crb device; the state file on the host is encrypted; the EK recorded
// at the master is the EK of that very state; after the host leaves the
// TVD, the state directory and the secret are gone. One boot for the whole
// scenario.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "guest_host.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/attest/swtpm_process.h"
#include "tvd/proxy/disk_passphrase.h"
#include "tvd/proxy/vtpm_state.h"

namespace tvd::proxy::testing {
namespace {

class GuestVtpmTest : public GuestHostTest {
 protected:
  // A member, so that it outlives TearDown's Leave of the proxy.
  FakeMaster master_{MakePolicy("blue", 32, {})};
  std::unique_ptr<SwtpmVtpmStates> vtpms_ =
      std::make_unique<SwtpmVtpmStates>(VtpmStorageDir());
};

std::vector<std::uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The live domain XML as libvirt reports it.
std::string LiveXml(const std::string& uri, const std::string& name) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) return "";
  std::string out;
  if (virDomainPtr dom = virDomainLookupByName(conn, name.c_str())) {
    if (char* xml = virDomainGetXMLDesc(dom, 0)) {
      out = xml;
      ::free(xml);
    }
    virDomainFree(dom);
  }
  virConnectClose(conn);
  return out;
}

// The usage type of the secret `uuid` (VIR_SECRET_USAGE_TYPE_*), -1 when
// there is none.
int SecretUsageType(const std::string& uri, const std::string& uuid) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) return -1;
  int type = -1;
  if (virSecretPtr s = virSecretLookupByUUIDString(conn, uuid.c_str())) {
    type = virSecretGetUsageType(s);
    virSecretFree(s);
  }
  virConnectClose(conn);
  return type;
}

TEST_F(GuestVtpmTest, TheGuestRunsWithAnEncryptedVtpmWhoseEkTheMasterHolds) {
  Guest g = MakeGuest(dir_.path(), *image_, "blue-t", "blue", "bluet0",
                      "52:54:00:00:0e:1a", "198.18.9.30", "", 0,
                      /*vtpm=*/true);
  master_.policy_ = MakePolicy("blue", 32, {g.vm});
  ASSERT_TRUE(master_.policy_.GrantsVtpmTo("blue-t"));
  blue_proxy_ = NewProxy("blue", master_, vtpms_.get());
  ASSERT_TRUE(blue_proxy_->Join().ok());
  auto attached = blue_proxy_->Attach(g.vm.config_path);
  ASSERT_TRUE(attached.ok()) << attached.status();
  const std::string uuid = (*attached)["vtpm"]["uuid"];
  ASSERT_EQ(master_.vtpm_records.size(), 1u);
  const protocol::VtpmRecord& record = master_.vtpm_records[0];

  // libvirt runs the guest with the proxy's vTPM: tpm-crb, swtpm emulator,
  // the state encrypted with a secret of usage type vtpm.
  auto boot =
      tvd::testing::WaitForGuestShell(g.socket, std::chrono::seconds(60));
  ASSERT_TRUE(boot.ok()) << boot.status();
  const std::string live =
      LiveXml(libvirtd_->ClientUri("qemu:///system"), "blue-t");
  EXPECT_NE(live.find("<tpm model='tpm-crb'>"), std::string::npos) << live;
  EXPECT_NE(live.find("<backend type='emulator' version='2.0'>"),
            std::string::npos)
      << live;
  auto secrets = hypervisor_->ListSecrets("tvd/blue/blue-t/#vtpm");
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  ASSERT_EQ(secrets->size(), 1u);
  EXPECT_NE(live.find("<encryption secret='" + secrets->front() + "'/>"),
            std::string::npos)
      << live;
  EXPECT_EQ(SecretUsageType(libvirtd_->ClientUri("secret:///system"),
                            secrets->front()),
            VIR_SECRET_USAGE_TYPE_VTPM);

  // The state on the host: swtpm's, made over to libvirt's swtpm user,
  // encrypted (header flag; none of the long zero runs of a plain state).
  const std::string state_dir = vtpms_->StateDir(uuid);
  const std::string permall = state_dir + "/tpm2-00.permall";
  std::vector<std::uint8_t> blob = ReadAll(permall);
  ASSERT_GT(blob.size(), 1000u) << permall;
  EXPECT_EQ(blob[5] & 0x1, 0x1) << "swtpm state header flags say plaintext";
  std::size_t run = 0, longest = 0;
  for (std::size_t i = 10; i < blob.size(); ++i) {
    run = blob[i] == 0 ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_LT(longest, 16u);
  struct stat st {};
  ASSERT_EQ(::stat(state_dir.c_str(), &st), 0);
  EXPECT_NE(st.st_uid, 0u) << "libvirt left the state root's";

  // The EK the master holds is the EK of this state: a private swtpm on a
  // copy of it, with the released key, shows the same one.
  const std::string copy = dir_.path() + "/vtpm-copy";
  std::filesystem::create_directory(copy);
  std::filesystem::copy_file(permall, copy + "/tpm2-00.permall");
  SecureBytes passphrase = DiskPassphrase(
      SecureBytes(std::span<const std::uint8_t>(master_.vtpm_key)));
  {
    attest::SwtpmProcessOptions o;
    o.state_dir = copy;
    o.passphrase = &passphrase;
    auto swtpm = attest::SwtpmProcess::Start(o);
    ASSERT_TRUE(swtpm.ok()) << swtpm.status();
    attest::EsysTpmOptions t;
    t.tcti = swtpm->tcti();
    t.ak_algorithm = attest::AkAlgorithm::kVtpm;
    auto tpm = attest::EsysTpm::Open(t);
    ASSERT_TRUE(tpm.ok()) << tpm.status();
    EXPECT_EQ(*(*tpm)->EkPublic(), record.ek_public);
    EXPECT_EQ(*(*tpm)->AkPublic(), record.ak_public);
  }
  std::filesystem::remove_all(copy);

  // The host leaves: the VM, its vTPM state and its secret are gone.
  ASSERT_TRUE(blue_proxy_->Leave().ok());
  EXPECT_TRUE(Domains().empty());
  EXPECT_FALSE(std::filesystem::exists(VtpmStorageDir() + "/" + uuid));
  secrets = hypervisor_->ListSecrets("");
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_TRUE(secrets->empty());
}

}  // namespace
}  // namespace tvd::proxy::testing

// The deep quote in a real guest: QEMU (TCG) with a vTPM (swtpm, tpm-crb)
// and the attestation agent on the virtio-serial port org.tvd.attest.0,
// started directly (no libvirt), the image of testbed/guest/build-guest.sh.
// The guest extends PCR 16 with its own tool; a quote over a nonce arrives
// on the host socket; the AK is then read from the same swtpm state (as the
// proxy does when it creates the vTPM) and the whole chain verifies, shows
// the extended PCR, and fails for an evicted host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "guest_util.h"
#include "tvd/attest/deep_quote.h"
#include "tvd/attest/guest_quote_client.h"
#include "tvd/guest_agent/vtpm_client.h"
#include "tvd/hex.h"
#include "tvd/log.h"
#include "tvd/process.h"
#include "tvd/testing/files.h"
#include "tvd/testing/status_matchers.h"
#include "tvd/testing/swtpm.h"

namespace tvd::testing {
namespace {

class GuestDeepQuoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto image = BuildGuestImage();
    ASSERT_THAT(image, IsOk());
    std::string tmpl =
        "/tmp/tvd-guest-vtpm-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/tpm");

    ProcessOptions tpm;
    tpm.argv = {"swtpm",
                "socket",
                "--tpm2",
                "--tpmstate",
                "dir=" + dir_ + "/tpm",
                "--ctrl",
                "type=unixio,path=" + dir_ + "/swtpm.sock"};
    tpm.stdout_path = dir_ + "/swtpm.out";
    tpm.stderr_path = dir_ + "/swtpm.out";
    auto sw = ChildProcess::Start(tpm);
    ASSERT_THAT(sw, IsOk());
    swtpm_ = std::move(*sw);
    for (int i = 0; i < 500 && !std::filesystem::exists(dir_ + "/swtpm.sock");
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/swtpm.sock"));

    serial_ = dir_ + "/ttyS0.sock";
    attest_ = dir_ + "/attest.sock";
    ProcessOptions vm;
    vm.argv = GuestQemuArgv(*image, "console=ttyS0 tvd.name=vtpm-guest");
    vm.argv.insert(
        vm.argv.end(),
        {"-chardev", "socket,id=chrtpm,path=" + dir_ + "/swtpm.sock", "-tpmdev",
         "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-crb,tpmdev=tpm0",
         "-device", "virtio-serial-pci", "-chardev",
         "socket,id=attest,path=" + attest_ + ",server=on,wait=off", "-device",
         "virtserialport,chardev=attest,name=org.tvd.attest.0", "-serial",
         "unix:" + serial_ + ",server=on,wait=off"});
    vm.stdout_path = dir_ + "/qemu.out";
    vm.stderr_path = dir_ + "/qemu.out";
    auto qemu = ChildProcess::Start(vm);
    ASSERT_THAT(qemu, IsOk());
    qemu_ = std::move(*qemu);
    auto boot = WaitForGuestShell(serial_, std::chrono::seconds(90));
    ASSERT_THAT(boot, IsOk()) << ReadLog("qemu.out");
    log::Info("vTPM guest boot to shell prompt (QEMU TCG): ", boot->count(),
              " ms");
  }

  void TearDown() override {
    (void)qemu_.Stop(std::chrono::seconds(5));
    (void)swtpm_.Stop(std::chrono::seconds(2));
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string ReadLog(const std::string& name) const {
    return ReadFileOrEmpty(dir_ + "/" + name);
  }

  std::string dir_;
  std::string serial_;
  std::string attest_;
  ChildProcess swtpm_;
  ChildProcess qemu_;
};

TEST_F(GuestDeepQuoteTest, GuestExtendsAPcrAndTheTenantsVerificationShowsIt) {
  auto agent = GuestExec(serial_, "ls /dev/virtio-ports/ /dev/tpmrm0");
  ASSERT_THAT(agent, IsOk());
  ASSERT_EQ(agent->exit_status, 0) << agent->out << agent->err;

  attest::tpmwire::PcrDigest d{};
  d.fill(0x3c);
  auto extend = GuestExec(
      serial_, "tvd-guest-attest --tpm /dev/tpmrm0 extend 16 " + ToHex(d));
  ASSERT_THAT(extend, IsOk());
  ASSERT_EQ(extend->exit_status, 0) << extend->out << extend->err;

  attest::GuestQuoteRequest request;
  request.nonce.assign(32, 0);
  for (std::size_t i = 0; i < 32; ++i) {
    request.nonce[i] = static_cast<std::uint8_t>(0x80 + i);
  }
  request.pcrs = {0, 16};
  auto answer =
      attest::AskGuestForQuote(attest_, request, std::chrono::seconds(60));
  ASSERT_THAT(answer, IsOk())
      << GuestExec(serial_, "cat /tmp/tvd-guest-attest.log")->out;
  // zeros || d, the extend's input.
  std::vector<std::uint8_t> chain(64, 0);
  std::copy(d.begin(), d.end(), chain.begin() + 32);
  ASSERT_EQ(answer->pcrs.size(), 2u);
  EXPECT_EQ(answer->pcrs[1].value, Sha256(chain));
  // A request the format refuses never leaves the host.
  request.pcrs = {};
  EXPECT_THAT(
      attest::AskGuestForQuote(attest_, request, std::chrono::seconds(60)),
      StatusIs(ErrorCode::kInvalidArgument, "guest quote request: no PCR"));

  // The vTPM as the proxy sees it at creation: its EK and AK from the
  // state, with the VM stopped.
  (void)qemu_.Stop(std::chrono::seconds(5));
  (void)swtpm_.Stop(std::chrono::seconds(2));
  auto state = SwtpmInstance::StartOn(dir_ + "/tpm");
  ASSERT_THAT(state, IsOk());
  std::vector<std::uint8_t> ek, ak;
  {
    auto esys = (*state)->Open();
    ASSERT_THAT(esys, IsOk());
    auto e = (*esys)->EkPublic();
    ASSERT_THAT(e, IsOk());
    ek = *e;
  }
  {
    auto tpm = guest_agent::OpenTpm("tcp:127.0.0.1:" +
                                    std::to_string((*state)->port()));
    ASSERT_THAT(tpm, IsOk());
    guest_agent::VtpmClient client(std::move(*tpm));
    auto a = client.AkPublic();
    ASSERT_THAT(a, IsOk());
    ak = *a;
  }
  EXPECT_EQ(answer->ak_public, ak);

  auto ca = pki::CreateCa("vdc-test", pki::Validity::ForDays(1));
  ASSERT_THAT(ca, IsOk());
  auto master = pki::IssueCertificate(*ca, pki::Role::kHost, "tvd-master",
                                      pki::Validity::ForDays(1));
  ASSERT_THAT(master, IsOk());
  auto now = std::chrono::system_clock::now();
  attest::VtpmBinding binding{"blue", "web1", "node1",
                              ek,     ak,     attest::ToUnixSeconds(now) - 120};
  attest::HostAttestationSummary host;
  host.host = "node1";
  host.last_good = attest::ToUnixSeconds(now) - 5;
  std::vector<std::uint8_t> nonce(32);
  for (std::size_t i = 0; i < 32; ++i) {
    nonce[i] = static_cast<std::uint8_t>(0x80 + i);
  }
  attest::DeepQuoteExpectation want;
  want.tvd = "blue";
  want.vm = "web1";
  want.nonce = nonce;
  auto statement =
      attest::IssueVtpmStatement(binding, host, nonce, now, *master);
  ASSERT_THAT(statement, IsOk());
  attest::DeepQuoteEvidence evidence{*statement, *answer};
  auto verified = attest::VerifyDeepQuote(evidence, ca->cert_pem, want, now);
  ASSERT_THAT(verified, IsOk());
  ASSERT_EQ(verified->pcrs.size(), 2u);
  EXPECT_EQ(verified->pcrs[1].index, 16u);
  EXPECT_EQ(verified->pcrs[1].value, Sha256(chain));

  // The same guest on a host the master has evicted.
  host.state = attest::HostMembership::kEvicted;
  auto evicted = attest::IssueVtpmStatement(binding, host, nonce, now, *master);
  ASSERT_THAT(evicted, IsOk());
  EXPECT_THAT(
      attest::VerifyDeepQuote({*evicted, *answer}, ca->cert_pem, want, now),
      StatusIs(ErrorCode::kPermissionDenied, "host node1 is evicted"));
}

}  // namespace
}  // namespace tvd::testing

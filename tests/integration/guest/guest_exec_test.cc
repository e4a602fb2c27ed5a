// guest-exec and the guest init contract against a real guest: the image of
// testbed/guest/build-guest.sh booted by QEMU (TCG) with its serial port on
// a UNIX socket, as libvirt's <serial type='unix'> gives it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "guest_util.h"
#include "tvd/log.h"
#include "tvd/process.h"

namespace tvd::testing {
namespace {

constexpr char kName[] = "probe-1";
constexpr char kAddress[] = "198.18.3.7/24";

class GuestExecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto image = BuildGuestImage();
    ASSERT_TRUE(image.ok()) << image.status();
    std::string tmpl =
        "/tmp/tvd-guest-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    socket_ = new std::string(*dir_ + "/ttyS0.sock");
    ProcessOptions opts;
    // The NIC sits on a hub with no other port: eth0 exists, nothing
    // leaves the guest.
    opts.argv = GuestQemuArgv(*image, std::string("console=ttyS0 tvd.ip=") +
                                          kAddress + " tvd.name=" + kName);
    opts.argv.insert(
        opts.argv.end(),
        {"-netdev", "hubport,id=n0,hubid=0", "-device",
         "virtio-net-pci,netdev=n0", "-drive",
         "file=" + image->disk() + ",format=raw,if=virtio,readonly=on",
         "-serial", "unix:" + *socket_ + ",server=on,wait=off"});
    opts.stdout_path = *dir_ + "/qemu.out";
    opts.stderr_path = *dir_ + "/qemu.out";
    auto qemu = ChildProcess::Start(opts);
    ASSERT_TRUE(qemu.ok()) << qemu.status();
    qemu_ = new ChildProcess(std::move(qemu).value());
    auto boot = WaitForGuestShell(*socket_, std::chrono::seconds(60));
    ASSERT_TRUE(boot.ok()) << boot.status();
    log::Info("guest boot to shell prompt (QEMU TCG, plain): ", boot->count(),
              " ms");
    ::testing::Test::RecordProperty("boot_to_shell_ms",
                                    static_cast<int>(boot->count()));
  }
  static void TearDownTestSuite() {
    if (qemu_ != nullptr) (void)qemu_->Stop(std::chrono::seconds(5));
    delete qemu_;
    qemu_ = nullptr;
    if (dir_ != nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*dir_, ec);
    }
    delete dir_;
    delete socket_;
  }
  void SetUp() override { ASSERT_NE(qemu_, nullptr); }

  static CommandResult Exec(const std::string& command, int timeout_s = 30) {
    auto r = GuestExec(*socket_, command, timeout_s);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", ""};
  }

  static std::string* dir_;
  static std::string* socket_;
  static ChildProcess* qemu_;
};

std::string* GuestExecTest::dir_ = nullptr;
std::string* GuestExecTest::socket_ = nullptr;
ChildProcess* GuestExecTest::qemu_ = nullptr;

TEST_F(GuestExecTest, InitAppliesTheCommandLineContract) {
  CommandResult host = Exec("hostname");
  EXPECT_EQ(host.exit_status, 0);
  EXPECT_EQ(host.out, std::string(kName) + "\n");
  CommandResult addr = Exec("ip -o -4 addr show dev eth0");
  EXPECT_EQ(addr.exit_status, 0);
  EXPECT_NE(addr.out.find(std::string("inet ") + kAddress), std::string::npos)
      << addr.out;
  // Administratively up (the hub gives it no carrier, so not "running").
  CommandResult link = Exec("ip -o link show dev eth0");
  EXPECT_NE(link.out.find(",UP"), std::string::npos) << link.out;
  // The raw disk is visible through virtio_blk with build-guest.sh's label.
  CommandResult disk = Exec("head -c 34 /dev/vda");
  EXPECT_EQ(disk.out, "TVD test guest data disk, format 1");
}

TEST_F(GuestExecTest, ReturnsTheCommandsOutputAndExitStatus) {
  CommandResult r = Exec("printf 'a\\nb'; exit 7");
  EXPECT_EQ(r.exit_status, 7);
  EXPECT_EQ(r.out, "a\nb");
  EXPECT_EQ(r.err, "");
  CommandResult err = Exec("echo to-stderr >&2");
  EXPECT_EQ(err.exit_status, 0);
  EXPECT_EQ(err.out, "to-stderr\n");
  CommandResult missing = Exec("no-such-command");
  EXPECT_EQ(missing.exit_status, 127);
  // Arguments are joined with spaces into one command line, as ssh does.
  auto joined = GuestExecArgs({"--socket", *socket_, "--", "echo", "one", "two",
                               "|", "tr", "a-z", "A-Z"});
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->out, "ONE TWO\n");
}

TEST_F(GuestExecTest, LongOutputArrivesComplete) {
  CommandResult r = Exec("seq 1 3000");
  EXPECT_EQ(r.exit_status, 0);
  std::string expected;
  for (int i = 1; i <= 3000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(r.out, expected);
}

TEST_F(GuestExecTest, CommandsDoNotReadTheConsole) {
  // stdin is /dev/null: `cat` ends at once instead of eating the console.
  CommandResult r = Exec("cat; echo done");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(GuestExecTest, TimeoutInterruptsTheCommandAndTheShellStaysUsable) {
  auto start = std::chrono::steady_clock::now();
  CommandResult r = Exec("sleep 60", /*timeout_s=*/2);
  EXPECT_EQ(r.exit_status, 124);
  EXPECT_EQ(r.err, "guest-exec: no answer from the guest within the timeout\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  CommandResult next = Exec("echo still-here");
  EXPECT_EQ(next.exit_status, 0);
  EXPECT_EQ(next.out, "still-here\n");
}

TEST_F(GuestExecTest, BadArgumentsAreRefusedWithTheReason) {
  auto no_socket = GuestExecArgs({"--", "true"});
  ASSERT_TRUE(no_socket.ok());
  EXPECT_EQ(no_socket->exit_status, 125);
  EXPECT_EQ(no_socket->err, "guest-exec: --socket PATH is required\n");
  auto newline = GuestExecArgs({"--socket", *socket_, "--", "true\nreboot"});
  ASSERT_TRUE(newline.ok());
  EXPECT_EQ(newline->exit_status, 125);
  EXPECT_EQ(newline->err,
            "guest-exec: the command contains a control character (newline, "
            "tab, ...); it must be one line of printable characters\n");
  auto too_long = GuestExecArgs(
      {"--socket", *socket_, "--", "echo " + std::string(1000, 'x')});
  ASSERT_TRUE(too_long.ok());
  EXPECT_EQ(too_long->exit_status, 125);
  EXPECT_EQ(too_long->err,
            "guest-exec: the command is 1005 bytes, over the limit of 900\n");
  auto bad_timeout =
      GuestExecArgs({"--socket", *socket_, "--timeout", "soon", "--", "true"});
  ASSERT_TRUE(bad_timeout.ok());
  EXPECT_EQ(bad_timeout->exit_status, 125);
  EXPECT_EQ(bad_timeout->err,
            "guest-exec: --timeout: 'soon' is not a number of seconds\n");
  auto nobody = GuestExecArgs(
      {"--socket", *dir_ + "/nobody.sock", "--timeout", "1", "--", "true"});
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->exit_status, 125);
  EXPECT_EQ(nobody->err, "guest-exec: cannot connect to " + *dir_ +
                             "/nobody.sock: No such file or directory\n");
}

}  // namespace
}  // namespace tvd::testing

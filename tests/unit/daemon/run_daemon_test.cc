#include "tvd/daemon/run_daemon.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "tvd/log.h"
#include "tvd/testing/files.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::daemon {
namespace {

struct DemoOptions {
  int port = 0;
  bool fail_start = false;
  bool fail_check = false;
};

// Records what the driver did; its Run sends the stop signal itself, as
// `kill PID` would.
struct Record {
  bool started = false;
  bool stopped = false;
  std::string port_file_at_run;
  std::function<void()> at_run;  // called first thing in Run
};

class DemoDaemon : public Daemon {
 public:
  DemoDaemon(std::uint16_t port, Record& record, std::string port_file)
      : port_(port), record_(record), port_file_(std::move(port_file)) {}
  std::uint16_t port() const override { return port_; }
  Status Run(StopSignals& signals) override {
    record_.port_file_at_run = testing::ReadFileOrEmpty(port_file_);
    if (record_.at_run) record_.at_run();
    ::kill(::getpid(), SIGTERM);
    return Daemon::Run(signals);
  }
  void Stop() override { record_.stopped = true; }

 private:
  std::uint16_t port_;
  Record& record_;
  std::string port_file_;
};

class RunDaemonTest : public ::testing::Test {
 protected:
  DaemonSpec<DemoOptions> Spec() {
    DaemonSpec<DemoOptions> spec;
    spec.name = "demo";
    spec.summary = "a demonstration";
    spec.listens = true;
    spec.declare = [](FlagSet& flags, DemoOptions& o) {
      flags.Integer("port", &o.port, 0, 65535, "the port").Required();
      flags.Bool("fail-start", &o.fail_start, "fail in Start");
      flags.Bool("fail-check", &o.fail_check, "fail in the check");
    };
    spec.check = [](const DemoOptions& o) -> Status {
      if (o.fail_check) {
        return FailedPrecondition(
            "private key /k (--key) has mode 0644, open "
            "to group or others; fix: chmod 0600 /k");
      }
      return Status::Ok();
    };
    spec.start = [this](DemoOptions& o) -> StatusOr<DaemonPtr> {
      if (o.fail_start) return NotFound("certificate /x missing");
      record_.started = true;
      return DaemonPtr(std::make_unique<DemoDaemon>(
          static_cast<std::uint16_t>(o.port), record_, dir_.File("port")));
    };
    return spec;
  }

  testing::TempDir dir_;
  Record record_;
};

TEST_F(RunDaemonTest, StartsWritesThePortFileAndStopsCleanly) {
  EXPECT_EQ(RunDaemon(Spec(), {"--port=7400", "--port-file", dir_.File("port"),
                               "--log-level=warning"}),
            0);
  EXPECT_TRUE(record_.started);
  EXPECT_TRUE(record_.stopped);
  // Written before Run: whoever waits for it can connect at once.
  EXPECT_EQ(record_.port_file_at_run, "7400\n");
  log::SetLevel(log::Level::kInfo);
}

TEST_F(RunDaemonTest, UsageErrorsExitTwoWithoutStarting) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--bogus"}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "demo: unknown option '--bogus'\n"
            "run 'demo --help' for the options\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--port=7400", "--log-level=loud"}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "demo: --log-level: 'loud' is not one of debug, info, warning, "
            "error\nrun 'demo --help' for the options\n");
  EXPECT_FALSE(record_.started);
}

TEST_F(RunDaemonTest, HelpPrintsTheFlagsAndExitsZero) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunDaemon(Spec(), {"--help"}), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(out.starts_with("usage: demo [options]\na demonstration\n"))
      << out;
  EXPECT_NE(out.find("  --port-file PATH\n      after binding, write the "
                     "bound port here (atomically)\n"),
            std::string::npos)
      << out;
  EXPECT_FALSE(record_.started);
}

TEST_F(RunDaemonTest, StartFailureExitsOne) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--port=1", "--fail-start"}), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find(
                "error demo: not-found: certificate /x missing"),
            std::string::npos);
}

TEST_F(RunDaemonTest, UnwritablePortFileStopsTheDaemonAndExitsOne) {
  const std::string path = dir_.File("missing/port");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--port=1", "--port-file=" + path}), 1);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find(
                "--port-file: io: cannot create " + path + ".tmp.XXXXXX"),
            std::string::npos);
  EXPECT_TRUE(record_.stopped);
}

TEST_F(RunDaemonTest, FlagsParseForTests) {
  auto o = ParseDaemonFlags(Spec(), {"--port", "9"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->port, 9);
  // --port-file belongs to the driver, not to the daemon's options.
  EXPECT_EQ(ParseDaemonFlags(Spec(), {"--port=9", "--port-file=/p"}).status(),
            InvalidArgument("unknown option '--port-file'"));
  EXPECT_EQ(ParseDaemonFlags(Spec(), {"--help"}).status(),
            InvalidArgument("--help asks for the usage"));
}

// The service manager hears READY=1 once the daemon listens (the port file
// is there before Run) and STOPPING=1 when it stops; the daemon's children
// do not inherit NOTIFY_SOCKET.
TEST_F(RunDaemonTest, TellsTheServiceManagerReadyAndStopping) {
  const std::string path = dir_.File("notify");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
  auto next = [fd]() {
    char buffer[64];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n < 0 ? std::string() : std::string(buffer, std::size_t(n));
  };
  std::string at_run;
  const char* env_at_run = "unset";
  record_.at_run = [&]() {
    at_run = next();
    env_at_run = std::getenv("NOTIFY_SOCKET");
  };
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_EQ(RunDaemon(Spec(), {"--port=7400", "--port-file", dir_.File("port"),
                               "--log-level=warning"}),
            0);
  log::SetLevel(log::Level::kInfo);
  EXPECT_EQ(at_run, "READY=1");
  EXPECT_EQ(env_at_run, nullptr);
  EXPECT_EQ(next(), "STOPPING=1");
  EXPECT_EQ(next(), "");
  ::close(fd);
}

TEST_F(RunDaemonTest, AFailedCheckExitsOneWithOneLineAndStartsNothing) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--port=1", "--fail-check"}), 1);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "error demo: failed-precondition: private key /k (--key) has mode "
            "0644, open to group or others; fix: chmod 0600 /k\n");
  EXPECT_FALSE(record_.started);
}

// Every daemon reads --config FILE of its flags' names; an unknown key there
// is one line naming the file, the line and the fix.
TEST_F(RunDaemonTest, ReadsAConfigFileOfItsFlags) {
  testing::WriteTestFile(
      dir_.File("demo.conf"),
      "# demo\nport = 7400\nport-file = " + dir_.File("port") + "\n");
  EXPECT_EQ(RunDaemon(Spec(), {"--config", dir_.File("demo.conf"),
                               "--log-level=warning"}),
            0);
  log::SetLevel(log::Level::kInfo);
  EXPECT_EQ(record_.port_file_at_run, "7400\n");

  testing::WriteTestFile(dir_.File("bad.conf"), "port = 1\ncolour = red\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDaemon(Spec(), {"--config=" + dir_.File("bad.conf")}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "demo: " + dir_.File("bad.conf") +
                ":2: unknown key 'colour'; fix: remove the line or correct "
                "the key (demo --help lists the keys)\n");
}

}  // namespace
}  // namespace tvd::daemon

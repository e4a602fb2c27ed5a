#include "tvd/proxy_factory/proxy_factory.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tvd/host/control_socket.h"

namespace tvd::host {
namespace {

const std::string kFakeProxy =
    std::string(TVD_BINARY_DIR) + "/tests/unit/factory/fake_tvd_proxy";

class FactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        "/tmp/tvd-factory-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    factory_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ProxyFactory& Factory(std::vector<std::string> argv = {kFakeProxy}) {
    launcher_ = std::make_unique<ProcessProxyLauncher>(std::move(argv));
    factory_ = std::make_unique<ProxyFactory>(
        FactoryConfig{.run_dir = dir_,
                      .start_timeout = std::chrono::seconds(10),
                      .call_timeout = std::chrono::seconds(10),
                      .restart_delay = std::chrono::milliseconds(0)},
        *launcher_);
    return *factory_;
  }

  std::string dir_;
  std::unique_ptr<ProcessProxyLauncher> launcher_;
  std::unique_ptr<ProxyFactory> factory_;
};

TEST_F(FactoryTest, JoinStartsOneProxyAndRefusesASecondJoin) {
  ProxyFactory& f = Factory();
  auto r = f.Handle({ControlOp::kJoin, "blue", "", ""});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  pid_t pid = f.ProxyPid("blue");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(r.result["pid"], pid);
  r = f.Handle({ControlOp::kJoin, "blue", "", ""});
  EXPECT_EQ(
      r.status,
      AlreadyExists("this host is already a member of TVD 'blue' (proxy "
                    "pid " +
                    std::to_string(pid) + "); leave it first to join again"));
  EXPECT_EQ(f.ProxyPid("blue"), pid);
  r = f.Handle({ControlOp::kStatus, "", "", ""});
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.result["tvds"].size(), 1u);
  EXPECT_EQ(r.result["tvds"][0]["tvd"], "blue");
  EXPECT_EQ(r.result["tvds"][0]["state"], "running");
}

TEST_F(FactoryTest, KilledProxyIsRestarted) {
  ProxyFactory& f = Factory();
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
  pid_t old_pid = f.ProxyPid("blue");
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  int restarted = 0;
  for (int i = 0; i < 100 && restarted == 0; ++i) {
    restarted = f.Supervise();
    if (restarted == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_EQ(restarted, 1);
  EXPECT_EQ(f.Restarts("blue"), 1);
  pid_t new_pid = f.ProxyPid("blue");
  EXPECT_GT(new_pid, 0);
  EXPECT_NE(new_pid, old_pid);
  auto r = f.Handle({ControlOp::kStatus, "blue", "", ""});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.result["pid"], new_pid);
}

TEST_F(FactoryTest, LeaveStopsTheProxyAndForgetsTheTvd) {
  ProxyFactory& f = Factory();
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
  pid_t pid = f.ProxyPid("blue");
  auto r = f.Handle({ControlOp::kLeave, "blue", "", ""});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(f.ProxyPid("blue"), -1);
  EXPECT_NE(::kill(pid, 0), 0);  // gone (reaped)
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/blue.sock"));
  EXPECT_EQ(f.Supervise(), 0);  // a proxy that left is not restarted
  r = f.Handle({ControlOp::kLeave, "blue", "", ""});
  EXPECT_EQ(r.status, NotFound("this host is not a member of TVD 'blue' (see "
                               "'tvdctl status')"));
}

TEST_F(FactoryTest, ProxyThatLeftOnItsOwnIsForgottenNotRestarted) {
  ProxyFactory& f = Factory();
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
  pid_t pid = f.ProxyPid("blue");
  // As after an eviction: the proxy leaves without the factory asking, and
  // exits 0.
  auto left =
      CallControl(dir_ + "/blue.sock", {ControlOp::kLeave, "blue", "", ""},
                  std::chrono::seconds(5));
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) {
    EXPECT_EQ(f.Supervise(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(f.Supervise(), 0);
  EXPECT_EQ(f.ProxyPid("blue"), -1);
  EXPECT_EQ(f.Restarts("blue"), 0);
  auto r = f.Handle({ControlOp::kStatus, "", "", ""});
  EXPECT_TRUE(r.result["tvds"].empty()) << r.result.dump();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/blue.sock"));
  // It can be joined again.
  EXPECT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
}

TEST_F(FactoryTest, ForwardedRefusalReachesTheCaller) {
  ProxyFactory& f = Factory();
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
  auto r = f.Handle({ControlOp::kAttach, "blue", "/tmp/web.xml", ""});
  EXPECT_EQ(r.status, PermissionDenied("attach refused by test proxy"));
  r = f.Handle({ControlOp::kAttach, "red", "/tmp/web.xml", ""});
  EXPECT_EQ(r.status, NotFound("this host is not a member of TVD 'red'; run "
                               "'tvdctl join red' first"));
}

TEST_F(FactoryTest, FailedJoinReportsTheProxysReasonAndKeepsNothing) {
  ProxyFactory& f = Factory({kFakeProxy, "--fail-join"});
  auto r = f.Handle({ControlOp::kJoin, "blue", "", ""});
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status.message().find("host not authorized"), std::string::npos)
      << r.status.message();
  EXPECT_EQ(f.ProxyPid("blue"), -1);
  EXPECT_EQ(f.Supervise(), 0);
  r = f.Handle({ControlOp::kStatus, "", "", ""});
  EXPECT_TRUE(r.result["tvds"].empty());
}

// --- the control socket itself ---

TEST(ControlSocketTest, CheckPeerIsDefaultDeny) {
  PeerPolicy none{.allowed_gid = std::nullopt, .allow_own_uid = false};
  EXPECT_TRUE(CheckPeer({1, 0, 0}, none).ok());
  Status s = CheckPeer({42, 54321, 54321}, none);
  EXPECT_EQ(s, PermissionDenied("control socket: peer uid 54321 (pid 42) is "
                                "not allowed; requires uid 0"));
  EXPECT_TRUE(CheckPeer({42, 54321, 777}, {.allowed_gid = 777}).ok());
  EXPECT_FALSE(CheckPeer({42, 54321, 778}, {.allowed_gid = 777}).ok());
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/tvd-ctl-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    path_ = dir_ + "/ctl.sock";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(ControlServerTest, PeerWithoutRightsIsRefusedAndHandlerNotCalled) {
  // Root refuses every other uid; an unprivileged runner refuses itself
  // once its own uid is not allowed.
  const bool root = ::geteuid() == 0;
  PeerPolicy policy{.allowed_gid = std::nullopt, .allow_own_uid = false};
  auto server = ControlServer::Listen(path_, policy);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ::chmod(path_.c_str(), 0666);  // the peer check is the gate under test
  int handled = 0;
  auto handler = [&](const ControlRequest&, const PeerCredentials&) {
    ++handled;
    return ControlResponse{};
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(10);
    auto r = CallControl(path_, {ControlOp::kStatus, "", "", ""},
                         std::chrono::seconds(5));
    if (!r.ok()) _exit(11);
    _exit(r->status.code() == ErrorCode::kPermissionDenied ? 0 : 12);
  }
  EXPECT_TRUE((*server)->ServeOne(handler, std::chrono::seconds(5)));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(handled, 0);
}

TEST_F(ControlServerTest, BadRequestsGetAClearErrorAndReachNoHandler) {
  auto server = ControlServer::Listen(path_, {});
  ASSERT_TRUE(server.ok());
  int handled = 0;
  auto handler = [&](const ControlRequest&, const PeerCredentials&) {
    ++handled;
    return ControlResponse{};
  };
  std::atomic<bool> stop{false};
  std::thread serving([&] { (*server)->Serve(handler, stop); });
  auto send_raw = [&](const std::string& bytes) -> std::string {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return "connect failed";
    }
    (void)WriteAll(fd, bytes);
    auto body = ReadFrame(fd, std::chrono::seconds(10));
    ::close(fd);
    if (!body.ok()) return body.status().ToString();
    auto resp = DecodeResponse(*body);
    return resp.ok() ? resp->status.ToString() : resp.status().ToString();
  };
  EXPECT_EQ(send_raw(Frame("{\"op\":\"format-disk\"}")),
            "invalid-argument: request: unknown op 'format-disk' (expected "
            "join, leave, attach, detach, status or usage)");
  EXPECT_EQ(send_raw(Frame("not json")),
            "invalid-argument: request: not valid JSON");
  EXPECT_EQ(send_raw(std::string("\x7f\xff\xff\xff", 4)),
            "invalid-argument: control socket: frame of 2147483647 bytes "
            "exceeds the limit of 65536");
  EXPECT_EQ(handled, 0);
  auto good = CallControl(path_, {ControlOp::kStatus, "", "", ""},
                          std::chrono::seconds(5));
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->status.ok());
  EXPECT_EQ(handled, 1);
  stop = true;
  serving.join();
}

}  // namespace
}  // namespace tvd::host

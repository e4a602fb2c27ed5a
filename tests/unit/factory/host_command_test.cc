// tvdctl's host commands against a control socket served by the test.
#include "tvd/tvdctl/host_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tvd/host/control_socket.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {
namespace {

class HostCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        "/tmp/tvd-tvdctl-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/factory.sock";
    auto server = host::ControlServer::Listen(socket_, {});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    serving_ = std::thread([this] {
      server_->Serve(
          [this](const host::ControlRequest& req,
                 const host::PeerCredentials&) {
            seen_.push_back(req);
            host::ControlResponse r;
            if (req.op == host::ControlOp::kJoin && req.tvd == "blue") {
              r.status = AlreadyExists(
                  "this host is already a member of TVD "
                  "'blue'");
            } else if (req.op == host::ControlOp::kAttach && req.tvd == "red") {
              r.status = PermissionDenied(
                  "VM 'web': measured disk 'vda' (/img/web.img) has sha256 "
                  "aa but TVD 'red' expects bb");
            } else if (req.op == host::ControlOp::kLeave &&
                       req.tvd == "green") {
              r.status = PermissionDenied(
                  "control socket: peer uid 1000 (pid 5) is not allowed; "
                  "requires uid 0");
            } else if (req.op == host::ControlOp::kJoin &&
                       req.tvd == "purple") {
              r.status = PermissionDenied(
                  "master: host h1 is not authorized for TVD 'purple'");
            } else if (req.op == host::ControlOp::kStatus) {
              r.result = {{"tvds",
                           {{{"tvd", "blue"},
                             {"state", "running"},
                             {"pid", 4242},
                             {"restarts", 1},
                             {"proxy", {{"vms", {{{"name", "web"}}}}}}}}}};
            } else {
              r.result = {{"tvd", req.tvd},
                          {"pid", 99},
                          {"vm", "web"},
                          {"uuid", "u-1"}};
            }
            return r;
          },
          stop_);
    });
  }
  void TearDown() override {
    stop_ = true;
    if (serving_.joinable()) serving_.join();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunTvdctl(args, out_, err_);
  }

  std::string dir_;
  std::string socket_;
  std::unique_ptr<host::ControlServer> server_;
  std::atomic<bool> stop_{false};
  std::thread serving_;
  std::vector<host::ControlRequest> seen_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(HostCommandTest, JoinPrintsTheResult) {
  EXPECT_EQ(Run({"join", "red", "--socket", socket_}), kExitOk);
  EXPECT_EQ(out_.str(), "joined TVD 'red' (proxy pid 99)\n");
}

TEST_F(HostCommandTest, RefusalExitsOneWithReasonAndHint) {
  EXPECT_EQ(Run({"join", "blue", "--socket", socket_}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl join: already-exists: this host is already a member of "
            "TVD 'blue'\n  see 'tvdctl status' for the current state\n");
}

TEST_F(HostCommandTest, RefusalHintSaysWhatToDoForItsCause) {
  const std::string vm = dir_ + "/web.xml";
  { std::ofstream(vm) << "<domain/>"; }
  EXPECT_EQ(Run({"attach", "red", vm, "--socket", socket_}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl attach: permission-denied: VM 'web': measured disk 'vda' "
            "(/img/web.img) has sha256 aa but TVD 'red' expects bb\n"
            "  the VM's files or configuration differ from the known-good "
            "values in the TVD policy; restore them, or have the admin update "
            "the policy ('tvdctl tvd update')\n");
  EXPECT_EQ(Run({"leave", "green", "--socket", socket_}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl leave: permission-denied: control socket: peer uid 1000 "
            "(pid 5) is not allowed; requires uid 0\n"
            "  run as root or as a member of the proxy-factory's group\n");
  EXPECT_EQ(Run({"join", "purple", "--socket", socket_}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl join: permission-denied: master: host h1 is not "
            "authorized for TVD 'purple'\n"
            "  refused by the TVD policy or the master; the reason is above\n");
}

TEST_F(HostCommandTest, StatusTableAndJson) {
  EXPECT_EQ(Run({"status", "--socket", socket_}), kExitOk);
  EXPECT_EQ(out_.str(),
            "TVD   STATE    PID   RESTARTS  VMS  \n"
            "blue  running  4242  1         1    \n");
  EXPECT_EQ(Run({"status", "--json", "--socket=" + socket_}), kExitOk);
  auto j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["tvds"][0]["pid"], 4242);
}

TEST_F(HostCommandTest, AttachSendsAnAbsolutePath) {
  const std::string vm = dir_ + "/web.xml";
  { std::ofstream(vm) << "<domain/>"; }
  std::filesystem::current_path(dir_);
  EXPECT_EQ(Run({"attach", "blue", "web.xml", "--socket", socket_}), kExitOk);
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.back().vm_config, std::filesystem::canonical(vm).string());
  EXPECT_EQ(Run({"attach", "blue", "missing.xml", "--socket", socket_}),
            kExitFailure);
  EXPECT_EQ(err_.str(),
            "tvdctl attach: cannot find VM configuration 'missing.xml': "
            "check the path\n");
  std::filesystem::current_path("/");
}

TEST_F(HostCommandTest, UsageErrorsExitTwoAndSendNothing) {
  EXPECT_EQ(Run({"join"}), kExitUsage);
  EXPECT_EQ(err_.str(),
            "tvdctl join: expected TVD (see 'tvdctl join --help')\n");
  EXPECT_EQ(Run({"detach", "blue"}), kExitUsage);
  EXPECT_EQ(Run({"leave", "../etc", "--socket", socket_}), kExitUsage);
  EXPECT_EQ(Run({"status", "--frobnicate"}), kExitUsage);
  EXPECT_EQ(Run({"detach", "blue", "a/b", "--socket", socket_}), kExitUsage);
  EXPECT_TRUE(seen_.empty());
}

TEST_F(HostCommandTest, UnreachableDaemonExitsThree) {
  EXPECT_EQ(Run({"status", "--socket", dir_ + "/nobody.sock"}),
            kExitUnreachable);
  EXPECT_NE(err_.str().find("is proxy-factory running?"), std::string::npos);
}

TEST_F(HostCommandTest, EveryCommandHasHelp) {
  for (const char* cmd : {"join", "leave", "attach", "detach", "status"}) {
    EXPECT_EQ(Run({cmd, "--help"}), kExitOk) << cmd;
    EXPECT_EQ(out_.str().rfind(std::string("usage: tvdctl ") + cmd, 0), 0u)
        << out_.str();
  }
}

}  // namespace
}  // namespace tvd::tvdctl

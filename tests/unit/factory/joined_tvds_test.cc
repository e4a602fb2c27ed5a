// The factory remembers its joined TVDs across its own restart
// (RUN_DIR/joined): the file format, its atomic replacement, and a factory
// that is stopped and started again bringing back the proxies (the fake
// proxy stands in for tvd-proxy).
#include "tvd/proxy_factory/joined_tvds.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tvd/proxy_factory/proxy_factory.h"

namespace tvd::host {
namespace {

const std::string kFakeProxyBinary =
    std::string(TVD_BINARY_DIR) + "/tests/unit/factory/fake_tvd_proxy";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class JoinedTvdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        "/tmp/tvd-joined-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/joined";
  }
  void TearDown() override {
    factory_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ProxyFactory& StartFactory() {
    factory_.reset();
    factory_ = std::make_unique<ProxyFactory>(
        FactoryConfig{.run_dir = dir_,
                      .start_timeout = std::chrono::seconds(10),
                      .call_timeout = std::chrono::seconds(10),
                      .restart_delay = std::chrono::milliseconds(0)},
        launcher_);
    return *factory_;
  }

  std::string dir_, path_;
  ProcessProxyLauncher launcher_{{kFakeProxyBinary}};
  std::unique_ptr<ProxyFactory> factory_;
};

TEST_F(JoinedTvdsTest, ParseSkipsBadLinesAndSaysWhy) {
  JoinedTvds j = ParseJoinedTvds("blue\n\n  red  \n../etc\nblue\ngreen", "F");
  EXPECT_EQ(j.names, (std::vector<std::string>{"blue", "red", "green"}));
  EXPECT_EQ(j.problems,
            (std::vector<std::string>{"F:4: '../etc' is not a valid TVD name",
                                      "F:5: TVD 'blue' listed twice"}));
}

TEST_F(JoinedTvdsTest, SaveReplacesTheFileWholeWithModeSixHundred) {
  auto missing = LoadJoinedTvds(path_);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->names.empty());
  ASSERT_TRUE(SaveJoinedTvds(path_, {"blue", "red"}).ok());
  EXPECT_EQ(ReadAll(path_), "blue\nred\n");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(SaveJoinedTvds(path_, {"red"}).ok());
  EXPECT_EQ(LoadJoinedTvds(path_)->names, std::vector<std::string>{"red"});
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  // A directory that does not exist: the error names the step and path.
  Status bad = SaveJoinedTvds(dir_ + "/no/joined", {"blue"});
  EXPECT_EQ(bad.code(), ErrorCode::kIo);
  EXPECT_NE(bad.message().find("cannot create " + dir_ + "/no/joined.tmp."),
            std::string::npos)
      << bad;
}

TEST_F(JoinedTvdsTest, RestartedFactoryStartsTheProxiesOfJoinedTvds) {
  ProxyFactory& f = StartFactory();
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "blue", "", ""}).status.ok());
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "red", "", ""}).status.ok());
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "green", "", ""}).status.ok());
  ASSERT_TRUE(f.Handle({ControlOp::kLeave, "green", "", ""}).status.ok());
  EXPECT_EQ(ReadAll(path_), "blue\nred\n");
  pid_t old_blue = f.ProxyPid("blue");

  // SIGTERM of the factory: it stops its proxies, memberships stay.
  f.StopAll();
  EXPECT_NE(::kill(old_blue, 0), 0);
  EXPECT_EQ(ReadAll(path_), "blue\nred\n");

  ProxyFactory& again = StartFactory();
  EXPECT_EQ(again.RestoreJoined(), 2);
  EXPECT_GT(again.ProxyPid("blue"), 0);
  EXPECT_NE(again.ProxyPid("blue"), old_blue);
  EXPECT_GT(again.ProxyPid("red"), 0);
  EXPECT_EQ(again.ProxyPid("green"), -1);
  auto r = again.Handle({ControlOp::kStatus, "", "", ""});
  ASSERT_EQ(r.result["tvds"].size(), 2u) << r.result.dump();
  EXPECT_EQ(r.result["tvds"][0]["state"], "running");
  EXPECT_EQ(r.result["tvds"][0]["restarts"], 0);
  // Joining a restored TVD again is refused as for any member.
  EXPECT_EQ(again.Handle({ControlOp::kJoin, "blue", "", ""}).status.code(),
            ErrorCode::kAlreadyExists);
  // Leave removes the entry.
  ASSERT_TRUE(again.Handle({ControlOp::kLeave, "blue", "", ""}).status.ok());
  EXPECT_EQ(ReadAll(path_), "red\n");
}

TEST_F(JoinedTvdsTest, ProxyThatCannotStartIsRetriedNotForgotten) {
  ASSERT_TRUE(SaveJoinedTvds(path_, {"blue"}).ok());
  {
    ProcessProxyLauncher failing({kFakeProxyBinary, "--fail-join"});
    ProxyFactory f(FactoryConfig{.run_dir = dir_,
                                 .start_timeout = std::chrono::seconds(10),
                                 .call_timeout = std::chrono::seconds(10),
                                 .restart_delay = std::chrono::hours(1)},
                   failing);
    EXPECT_EQ(f.RestoreJoined(), 0);
    auto r = f.Handle({ControlOp::kStatus, "", "", ""});
    ASSERT_EQ(r.result["tvds"].size(), 1u) << r.result.dump();
    EXPECT_EQ(r.result["tvds"][0]["state"], "restarting");
  }
  // The membership is still remembered for the next start.
  EXPECT_EQ(ReadAll(path_), "blue\n");
}

TEST_F(JoinedTvdsTest, DamagedFileRestoresTheValidNames) {
  std::ofstream(path_) << "blue\n..\n";
  ProxyFactory& f = StartFactory();
  EXPECT_EQ(f.RestoreJoined(), 1);
  EXPECT_GT(f.ProxyPid("blue"), 0);
  // The next write keeps only what the factory runs.
  ASSERT_TRUE(f.Handle({ControlOp::kJoin, "red", "", ""}).status.ok());
  EXPECT_EQ(ReadAll(path_), "blue\nred\n");
}

}  // namespace
}  // namespace tvd::host

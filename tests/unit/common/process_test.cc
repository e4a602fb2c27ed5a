#include "tvd/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace tvd {
namespace {

using std::chrono::milliseconds;

TEST(ProcessTest, RunCommandCapturesOutputAndExitCode) {
  ProcessOptions o;
  o.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  StatusOr<CommandResult> r = RunCommand(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(ProcessTest, MissingProgramIsAnErrorAtStart) {
  ProcessOptions o;
  o.argv = {"/nonexistent/tvd-program"};
  StatusOr<ChildProcess> c = ChildProcess::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "cannot start /nonexistent/tvd-program (exec): No such file or "
            "directory");
}

TEST(ProcessTest, EnvironmentOverrides) {
  ProcessOptions o;
  o.argv = {"sh", "-c", "printf %s \"$TVD_PROCESS_TEST\""};
  o.env = {"TVD_PROCESS_TEST=value-1"};
  StatusOr<CommandResult> r = RunCommand(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "value-1");
}

TEST(ProcessTest, StdinIsDevNullUnlessADescriptorIsGiven) {
  ProcessOptions o;
  o.argv = {"sh", "-c", "cat; echo end"};
  StatusOr<CommandResult> r = RunCommand(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "end\n");

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "from-pipe", 9), 9);
  ::close(fds[1]);
  o.stdin_fd = fds[0];
  r = RunCommand(o);
  ::close(fds[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "from-pipeend\n");
}

TEST(ProcessTest, StopTerminatesAndReaps) {
  ProcessOptions o;
  o.argv = {"sleep", "100"};
  StatusOr<ChildProcess> c = ChildProcess::Start(o);
  ASSERT_TRUE(c.ok());
  pid_t pid = c->pid();
  EXPECT_TRUE(c->Running());
  StatusOr<int> st = c->Stop(milliseconds(2000));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, 128 + SIGTERM);
  EXPECT_NE(::kill(pid, 0), 0);  // gone and reaped
}

TEST(ProcessTest, StopKillsWhatIgnoresTerm) {
  ProcessOptions o;
  o.argv = {"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"};
  StatusOr<ChildProcess> c = ChildProcess::Start(o);
  ASSERT_TRUE(c.ok());
  ::usleep(100000);  // let the shell install its trap
  StatusOr<int> st = c->Stop(milliseconds(200));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, 128 + SIGKILL);
}

TEST(ProcessTest, RunCommandTimesOut) {
  ProcessOptions o;
  o.argv = {"sleep", "5"};
  StatusOr<CommandResult> r = RunCommand(o, milliseconds(100));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
}

TEST(ProcessTest, OutputToFile) {
  std::string path = ::testing::TempDir() + "/process_test_out";
  ::unlink(path.c_str());
  ProcessOptions o;
  o.argv = {"sh", "-c", "echo hello"};
  o.stdout_path = path;
  StatusOr<ChildProcess> c = ChildProcess::Start(o);
  ASSERT_TRUE(c.ok());
  StatusOr<int> st = c->Wait(milliseconds(5000));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, 0);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "hello\n");
  ::unlink(path.c_str());
}

TEST(ProcessTest, RunCheckedReportsStderr) {
  Status s = RunChecked({"sh", "-c", "echo broken >&2; exit 1"});
  EXPECT_EQ(s.message(),
            "'sh -c echo broken >&2; exit 1' exited with 1: broken");
}

}  // namespace
}  // namespace tvd

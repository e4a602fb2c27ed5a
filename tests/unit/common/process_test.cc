#include "tvd/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
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

TEST(ProcessTest, ReadOnlyRootNeedsAMountNamespace) {
  ProcessOptions o;
  o.argv = {"true"};
  o.read_only_root = true;
  StatusOr<ChildProcess> c = ChildProcess::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "read_only_root needs new_mount_namespace");
}

// The child cannot create a file on the root file system, except under a
// path bound on itself; the parent's view stays writable. Needs root (mount
// namespaces), as the integration tests do.
TEST(ProcessTest, ReadOnlyRootLeavesOnlyTheBoundPathsWritable) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a mount namespace";
  char ro_tmpl[] = "/var/tmp/tvd-process-ro-XXXXXX";
  char rw_tmpl[] = "/var/tmp/tvd-process-rw-XXXXXX";
  ASSERT_NE(::mkdtemp(ro_tmpl), nullptr);
  ASSERT_NE(::mkdtemp(rw_tmpl), nullptr);
  std::string ro = ro_tmpl, rw = rw_tmpl;
  struct stat root_st {
  }, ro_st{};
  ASSERT_EQ(::stat("/", &root_st), 0);
  ASSERT_EQ(::stat(ro.c_str(), &ro_st), 0);
  if (root_st.st_dev != ro_st.st_dev) {
    ::rmdir(ro.c_str());
    ::rmdir(rw.c_str());
    GTEST_SKIP() << "/var/tmp is not on the root file system";
  }
  ProcessOptions o;
  o.argv = {"sh", "-c",
            "touch " + ro + "/f 2>/dev/null && echo ro-written; touch " + rw +
                "/f && echo rw-written"};
  o.new_mount_namespace = true;
  o.bind_mounts = {{rw, rw}};
  o.read_only_root = true;
  StatusOr<CommandResult> r = RunCommand(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "rw-written\n");
  EXPECT_NE(::access((ro + "/f").c_str(), F_OK), 0);
  EXPECT_EQ(::access((rw + "/f").c_str(), F_OK), 0);
  // The parent's mount is untouched.
  int fd = ::open((ro + "/g").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  if (fd >= 0) ::close(fd);
  for (const std::string& d : {ro, rw}) {
    ::unlink((d + "/f").c_str());
    ::unlink((d + "/g").c_str());
    ::rmdir(d.c_str());
  }
}

}  // namespace
}  // namespace tvd

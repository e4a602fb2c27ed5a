// Listener over real sockets: the port the kernel picked, exact bind and
// address errors, and UNIX socket files (mode, stale and live sockets,
// removal of only its own file).
#include "tvd/net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "tvd/testing/status_matchers.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::net {
namespace {

using ::tvd::testing::StatusIs;
using ::tvd::testing::TempDir;

// A UNIX socket bound at `path` and closed without removing the file: what
// a crashed server leaves behind.
void LeaveStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  ::close(fd);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(ListenerTest, PortZeroReportsTheBoundPort) {
  auto l = Listener::Tcp("127.0.0.1", 0);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_NE(l->port(), 0);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ASSERT_EQ(::getsockname(l->fd(), reinterpret_cast<sockaddr*>(&bound), &len),
            0);
  EXPECT_EQ(ntohs(bound.sin_port), l->port());
  EXPECT_EQ(l->description(), "127.0.0.1:" + std::to_string(l->port()));
}

TEST(ListenerTest, BindingAPortInUseIsAnExactError) {
  auto first = Listener::Tcp("127.0.0.1", 0);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = std::to_string(first->port());
  EXPECT_THAT(Listener::Tcp("127.0.0.1", first->port()),
              StatusIs(ErrorCode::kIo,
                       "bind 127.0.0.1:" + port + ": Address already in use"));
}

TEST(ListenerTest, AddressesMustBeNumeric) {
  EXPECT_THAT(Listener::Tcp("localhost", 0),
              StatusIs(ErrorCode::kInvalidArgument,
                       "listen address 'localhost' is not a numeric IPv4 or "
                       "IPv6 address"));
  EXPECT_THAT(IsLoopbackAddress("127.0.0.300"),
              StatusIs(ErrorCode::kInvalidArgument,
                       "listen address '127.0.0.300' is not a numeric IPv4 "
                       "or IPv6 address"));
}

TEST(ListenerTest, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.2"}) {
    auto loopback = IsLoopbackAddress(a);
    ASSERT_TRUE(loopback.ok()) << a << ": " << loopback.status();
    EXPECT_TRUE(*loopback) << a;
  }
  for (const char* a : {"0.0.0.0", "10.0.0.1", "::", "::ffff:10.0.0.1"}) {
    auto loopback = IsLoopbackAddress(a);
    ASSERT_TRUE(loopback.ok()) << a << ": " << loopback.status();
    EXPECT_FALSE(*loopback) << a;
  }
}

TEST(ListenerTest, Ipv6DescriptionHasBrackets) {
  auto l = Listener::Tcp("::1", 0);
  if (!l.ok()) {
    // Machines without IPv6 loopback fail at bind, never at the parse.
    EXPECT_EQ(l.status().code(), ErrorCode::kIo) << l.status();
    return;
  }
  EXPECT_EQ(l->description(), "[::1]:" + std::to_string(l->port()));
}

TEST(ListenerTest, UnixSocketGetsItsModeAndIsRemovedOnClose) {
  TempDir dir("listener");
  const std::string path = dir.File("control.sock");
  {
    auto l = Listener::Unix(path, 0660);
    ASSERT_TRUE(l.ok()) << l.status();
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    EXPECT_EQ(l->port(), 0);
    EXPECT_EQ(l->description(), path);
  }
  EXPECT_FALSE(Exists(path));
}

TEST(ListenerTest, StaleUnixSocketIsReplaced) {
  TempDir dir("listener");
  const std::string path = dir.File("stale.sock");
  LeaveStaleSocket(path);
  ASSERT_TRUE(Exists(path));
  auto l = Listener::Unix(path, 0600);
  ASSERT_TRUE(l.ok()) << l.status();
}

TEST(ListenerTest, LiveUnixSocketIsKept) {
  TempDir dir("listener");
  const std::string path = dir.File("live.sock");
  auto first = Listener::Unix(path, 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(
      Listener::Unix(path, 0600),
      StatusIs(ErrorCode::kAlreadyExists,
               "unix socket " + path + ": another server is listening there"));
  EXPECT_TRUE(Exists(path));
}

TEST(ListenerTest, UnixPathThatIsNotASocketIsRefused) {
  TempDir dir("listener");
  const std::string path = dir.File("file");
  std::ofstream(path) << "data";
  EXPECT_THAT(Listener::Unix(path, 0600),
              StatusIs(ErrorCode::kFailedPrecondition,
                       "unix socket " + path + ": exists and is not a socket"));
  EXPECT_TRUE(Exists(path));
}

TEST(ListenerTest, UnixPathLimits) {
  EXPECT_THAT(Listener::Unix("", 0600), StatusIs(ErrorCode::kInvalidArgument,
                                                 "unix socket path is empty"));
  const std::string long_path = "/tmp/" + std::string(120, 'x');
  EXPECT_THAT(
      Listener::Unix(long_path, 0600),
      StatusIs(ErrorCode::kInvalidArgument, "unix socket path '" + long_path +
                                                "' is longer than 107 bytes"));
}

TEST(ListenerTest, ClosingLeavesASuccessorsSocketFile) {
  TempDir dir("listener");
  const std::string path = dir.File("s.sock");
  auto old_listener = Listener::Unix(path, 0600);
  ASSERT_TRUE(old_listener.ok()) << old_listener.status();
  // An operator removed the file and a new server bound the path.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto successor = Listener::Unix(path, 0600);
  ASSERT_TRUE(successor.ok()) << successor.status();
  old_listener->Close();
  EXPECT_TRUE(Exists(path));
  successor->Close();
  EXPECT_FALSE(Exists(path));
}

TEST(ListenerTest, MovedFromListenerOwnsNothing) {
  auto l = Listener::Tcp("127.0.0.1", 0);
  ASSERT_TRUE(l.ok()) << l.status();
  const int fd = l->fd();
  Listener moved = std::move(*l);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_EQ(l->fd(), -1);  // NOLINT(bugprone-use-after-move): the point
  l->Close();              // does not close `fd`
  EXPECT_GE(::fcntl(fd, F_GETFD), 0);
}

}  // namespace
}  // namespace tvd::net

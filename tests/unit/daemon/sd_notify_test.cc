#include "tvd/daemon/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tvd/testing/temp_dir.h"

namespace tvd::daemon {
namespace {

// The service manager's end: a datagram socket bound to a path or, for
// "@name", to an abstract name.
class Listener {
 public:
  explicit Listener(const std::string& address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.data(), address.size());
    if (address[0] == '@') sa.sun_path[0] = '\0';
    const socklen_t length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                               address.size() + (address[0] == '@' ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), length) == 0;
  }
  ~Listener() { ::close(fd_); }
  bool bound() const { return bound_; }
  // The next datagram, or "" when none is queued.
  std::string Next() {
    char buffer[256];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    return n < 0 ? "" : std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST(NotifierTest, SendsEachStateAsOneDatagramToAPath) {
  testing::TempDir dir;
  const std::string path = dir.File("notify");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  auto notifier = Notifier::ForSocket(path);
  ASSERT_TRUE(notifier.ok()) << notifier.status();
  EXPECT_TRUE(notifier->enabled());
  EXPECT_TRUE(notifier->Notify("READY=1").ok());
  EXPECT_TRUE(notifier->Notify("STOPPING=1\nSTATUS=bye").ok());
  EXPECT_EQ(listener.Next(), "READY=1");
  EXPECT_EQ(listener.Next(), "STOPPING=1\nSTATUS=bye");
  EXPECT_EQ(listener.Next(), "");
}

TEST(NotifierTest, SendsToAnAbstractName) {
  const std::string name = "@tvd-notify-test-" + std::to_string(::getpid());
  Listener listener(name);
  ASSERT_TRUE(listener.bound());
  auto notifier = Notifier::ForSocket(name);
  ASSERT_TRUE(notifier.ok()) << notifier.status();
  EXPECT_TRUE(notifier->Notify("READY=1").ok());
  EXPECT_EQ(listener.Next(), "READY=1");
}

TEST(NotifierTest, RefusesAddressesThatAreNotAPathOrAbstract) {
  for (const char* bad : {"notify", "", "@", "vsock:2:1234", "./x"}) {
    EXPECT_EQ(Notifier::ForSocket(bad).status(),
              InvalidArgument("NOTIFY_SOCKET '" + std::string(bad) +
                              "' is neither an absolute path nor @abstract"))
        << bad;
  }
  const std::string nul("/run/a\0b", 8);
  EXPECT_EQ(Notifier::ForSocket(nul).status().code(),
            ErrorCode::kInvalidArgument);
  const std::string longest = "/" + std::string(106, 'a');
  EXPECT_TRUE(Notifier::ForSocket(longest).ok());
  EXPECT_EQ(Notifier::ForSocket(longest + "a").status(),
            InvalidArgument("NOTIFY_SOCKET '" + longest +
                            "a' is longer than 107 bytes"));
}

TEST(NotifierTest, ANotifierWithoutASocketSendsNothing) {
  Notifier none;
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.Notify("READY=1").ok());
}

TEST(NotifierTest, NoListenerIsAnIoError) {
  testing::TempDir dir;
  const std::string path = dir.File("nobody");
  auto notifier = Notifier::ForSocket(path);
  ASSERT_TRUE(notifier.ok());
  EXPECT_EQ(notifier->Notify("READY=1"),
            IoError("cannot notify NOTIFY_SOCKET '" + path +
                    "': No such file or directory"));
}

TEST(NotifierTest, FromEnvironmentTakesTheVariable) {
  ::unsetenv("NOTIFY_SOCKET");
  auto unset = Notifier::FromEnvironment();
  ASSERT_TRUE(unset.ok());
  EXPECT_FALSE(unset->enabled());

  ::setenv("NOTIFY_SOCKET", "", 1);
  auto empty = Notifier::FromEnvironment();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->enabled());

  testing::TempDir dir;
  Listener listener(dir.File("notify"));
  ASSERT_TRUE(listener.bound());
  ::setenv("NOTIFY_SOCKET", dir.File("notify").c_str(), 1);
  auto set = Notifier::FromEnvironment();
  ASSERT_TRUE(set.ok()) << set.status();
  // Children the daemon starts must not speak for its unit.
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_TRUE(set->Notify("READY=1").ok());
  EXPECT_EQ(listener.Next(), "READY=1");

  ::setenv("NOTIFY_SOCKET", "relative", 1);
  EXPECT_EQ(Notifier::FromEnvironment().status(),
            InvalidArgument("NOTIFY_SOCKET 'relative' is neither an absolute "
                            "path nor @abstract"));
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace tvd::daemon

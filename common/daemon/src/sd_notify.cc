#include "tvd/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tvd/unique_fd.h"

namespace tvd::daemon {

StatusOr<Notifier> Notifier::FromEnvironment() {
  const char* value = std::getenv("NOTIFY_SOCKET");
  if (value == nullptr || *value == '\0') return Notifier();
  std::string address(value);
  ::unsetenv("NOTIFY_SOCKET");
  return ForSocket(address);
}

StatusOr<Notifier> Notifier::ForSocket(std::string_view address) {
  const std::string quoted = "NOTIFY_SOCKET '" + std::string(address) + "'";
  // "@" alone would be the unnamed abstract address: nothing listens there.
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@')) {
    return InvalidArgument(quoted +
                           " is neither an absolute path nor @abstract");
  }
  // A path needs its terminating NUL inside sun_path; an abstract name takes
  // the leading NUL in place of the '@' and needs no terminator.
  const std::size_t room = sizeof(sockaddr_un{}.sun_path) - 1;
  if (address.size() > room) {
    return InvalidArgument(quoted + " is longer than " + std::to_string(room) +
                           " bytes");
  }
  if (address.find('\0') != std::string_view::npos) {
    return InvalidArgument(quoted +
                           " is neither an absolute path nor @abstract");
  }
  return Notifier(std::string(address));
}

Status Notifier::Notify(std::string_view state) const {
  if (!enabled()) return Status::Ok();
  const std::string what = "cannot notify NOTIFY_SOCKET '" + address_ + "'";
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, address_.data(), address_.size());
  if (address_[0] == '@') sa.sun_path[0] = '\0';
  // The abstract name's length is the address length: no terminator.
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                             (address_[0] == '@' ? 0 : 1));
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError(what, errno);
  const ssize_t sent =
      ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&sa), length);
  if (sent < 0) return ErrnoError(what, errno);
  if (static_cast<std::size_t>(sent) != state.size()) {
    return IoError(what + ": sent " + std::to_string(sent) + " of " +
                   std::to_string(state.size()) + " bytes");
  }
  return Status::Ok();
}

}  // namespace tvd::daemon

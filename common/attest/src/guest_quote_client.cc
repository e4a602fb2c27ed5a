#include "tvd/attest/guest_quote_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tvd/unique_fd.h"

namespace tvd::attest {

StatusOr<GuestQuoteAnswer> AskGuestForQuote(const std::string& socket,
                                            const GuestQuoteRequest& request,
                                            std::chrono::milliseconds timeout) {
  TVD_ASSIGN_OR_RETURN(std::string line, FormatGuestQuoteRequest(request));
  sockaddr_un addr{};
  if (socket.size() >= sizeof addr.sun_path) {
    return InvalidArgument("socket path too long: " + socket);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError("cannot make a socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
      0) {
    return Unavailable("cannot connect to " + socket + ": " +
                       std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n =
        ::send(fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("cannot send to " + socket, errno);
    done += static_cast<std::size_t>(n);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string answer;
  char buf[4096];
  // One line: up to its newline, never more than the format allows.
  while (answer.empty() || answer.back() != '\n') {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Unavailable("guest agent did not answer within " +
                         std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoError("poll " + socket, errno);
    if (ready == 0) continue;
    std::size_t room = kMaxGuestLine + 1 - answer.size();
    ssize_t n = ::recv(fd.get(), buf, std::min(sizeof buf, room), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read from " + socket, errno);
    if (n == 0) break;  // the parser names the truncation
    std::string_view got(buf, static_cast<std::size_t>(n));
    std::size_t nl = got.find('\n');
    // Bytes after the newline would belong to no request: dropped.
    answer.append(
        got.substr(0, nl == std::string_view::npos ? got.size() : nl + 1));
    if (answer.size() > kMaxGuestLine) break;
  }
  return ParseGuestQuoteAnswer(answer);
}

}  // namespace tvd::attest

#include "tvd/host/control_socket.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "tvd/log.h"
#include "tvd/unique_fd.h"

namespace tvd::host {

namespace {

using Clock = std::chrono::steady_clock;

StatusOr<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(
        "control socket path '" + path + "' is empty or longer than " +
        std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Reads exactly n bytes before `deadline`.
Status ReadExact(int fd, char* buf, std::size_t n, Clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return Timeout("control socket: read timed out");
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("control socket: poll", errno);
    }
    if (r == 0) return Timeout("control socket: read timed out");
    ssize_t k = ::read(fd, buf + got, n - got);
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoError("control socket: read", errno);
    }
    if (k == 0) {
      return Unavailable("control socket: peer closed the connection after " +
                         std::to_string(got) + " of " + std::to_string(n) +
                         " bytes");
    }
    got += static_cast<std::size_t>(k);
  }
  return Status::Ok();
}

bool InGroup(uid_t uid, gid_t primary, gid_t wanted) {
  if (primary == wanted) return true;
  passwd pw{};
  passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 ||
      result == nullptr) {
    return false;
  }
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
      return false;
    }
  }
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<std::size_t>(i)] == wanted) return true;
  }
  return false;
}

}  // namespace

Status CheckPeer(const PeerCredentials& peer, const PeerPolicy& policy) {
  if (peer.uid == 0) return Status::Ok();
  if (policy.allow_own_uid && peer.uid == ::geteuid()) return Status::Ok();
  if (policy.allowed_gid && InGroup(peer.uid, peer.gid, *policy.allowed_gid)) {
    return Status::Ok();
  }
  std::string need = "uid 0";
  if (policy.allow_own_uid) need += " or uid " + std::to_string(::geteuid());
  if (policy.allowed_gid) {
    need += " or a member of gid " + std::to_string(*policy.allowed_gid);
  }
  return PermissionDenied(
      "control socket: peer uid " + std::to_string(peer.uid) + " (pid " +
      std::to_string(peer.pid) + ") is not allowed; " + "requires " + need);
}

std::string UsageSocketPath(const std::string& run_dir,
                            const std::string& tvd) {
  return run_dir + "/usage/" + tvd + ".sock";
}

StatusOr<std::string> ReadFrame(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char hdr[4];
  TVD_RETURN_IF_ERROR(ReadExact(fd, hdr, 4, deadline));
  const std::uint32_t n =
      (static_cast<std::uint32_t>(static_cast<unsigned char>(hdr[0])) << 24) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(hdr[1])) << 16) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(hdr[2])) << 8) |
      static_cast<std::uint32_t>(static_cast<unsigned char>(hdr[3]));
  if (n > kMaxControlFrameBytes) {
    return InvalidArgument("control socket: frame of " + std::to_string(n) +
                           " bytes exceeds the limit of " +
                           std::to_string(kMaxControlFrameBytes));
  }
  std::string body(n, '\0');
  if (n > 0) TVD_RETURN_IF_ERROR(ReadExact(fd, body.data(), n, deadline));
  return body;
}

Status WriteAll(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t k =
        ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("control socket: write", errno);
    }
    done += static_cast<std::size_t>(k);
  }
  return Status::Ok();
}

StatusOr<ControlResponse> CallControl(const std::string& socket_path,
                                      const ControlRequest& request,
                                      std::chrono::milliseconds timeout) {
  TVD_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(socket_path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError("control socket: socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) != 0) {
    return Unavailable("cannot connect to " + socket_path + ": " +
                       std::strerror(errno));
  }
  TVD_RETURN_IF_ERROR(WriteAll(fd.get(), Frame(EncodeRequest(request))));
  TVD_ASSIGN_OR_RETURN(std::string body, ReadFrame(fd.get(), timeout));
  auto resp = DecodeResponse(body);
  if (!resp.ok()) return resp.status().WithContext(socket_path);
  return resp;
}

StatusOr<std::unique_ptr<ControlServer>> ControlServer::Listen(
    const std::string& path, PeerPolicy policy) {
  TVD_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  int raw = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (raw < 0) return ErrnoError("control socket: socket", errno);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      ::close(raw);
      return FailedPrecondition("control socket: " + path +
                                " exists and is not a socket; remove it");
    }
    ::unlink(path.c_str());
  }
  // Group-accessible only; the peer check is the real gate.
  mode_t old = ::umask(0117);
  int r = ::bind(raw, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  ::umask(old);
  if (r != 0) {
    ::close(raw);
    return ErrnoError("control socket: bind " + path, bind_errno);
  }
  if (policy.allowed_gid) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *policy.allowed_gid) !=
        0) {
      log::Warning("control socket: cannot give ", path, " to gid ",
                   *policy.allowed_gid, ": ", std::strerror(errno));
    }
  }
  if (::listen(raw, 16) != 0) {
    int e = errno;
    ::close(raw);
    ::unlink(path.c_str());
    return ErrnoError("control socket: listen " + path, e);
  }
  return std::unique_ptr<ControlServer>(new ControlServer(path, raw, policy));
}

ControlServer::~ControlServer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

void ControlServer::Serve(const Handler& handler,
                          const std::atomic<bool>& stop) {
  while (!stop.load()) {
    ServeOne(handler, std::chrono::milliseconds(200));
  }
}

bool ControlServer::ServeOne(const Handler& handler,
                             std::chrono::milliseconds wait) {
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (r <= 0) return false;
  int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return false;
  HandleConnection(conn, handler);
  ::close(conn);
  return true;
}

void ControlServer::HandleConnection(int conn, const Handler& handler) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  ControlResponse response;
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    response.status = ErrnoError("control socket: SO_PEERCRED", errno);
    (void)WriteAll(conn, Frame(EncodeResponse(response)));
    return;
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid};
  Status allowed = CheckPeer(peer, policy_);
  // The request is read (bounded by the frame cap and the timeout) even from
  // a refused peer: closing with unread data would reset the connection and
  // the peer would never see why it was refused. It is never decoded.
  auto body = ReadFrame(conn, std::chrono::seconds(5));
  if (!allowed.ok()) {
    log::Warning("refused: ", allowed.message());
    response.status = allowed;
    (void)WriteAll(conn, Frame(EncodeResponse(response)));
    return;
  }
  if (!body.ok()) {
    response.status = body.status();
    (void)WriteAll(conn, Frame(EncodeResponse(response)));
    return;
  }
  auto request = DecodeRequest(*body);
  if (!request.ok()) {
    log::Warning("bad request from uid ", peer.uid, ": ",
                 request.status().message());
    response.status = request.status();
  } else {
    response = handler(*request, peer);
  }
  (void)WriteAll(conn, Frame(EncodeResponse(response)));
}

}  // namespace tvd::host

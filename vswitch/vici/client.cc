#include "tvd/vswitch/vici/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tvd/log.h"

namespace tvd::vici {

namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

bool IsYes(const Message& m, std::string_view key) {
  return m.ValueOr(key, "") == "yes";
}

}  // namespace

StatusOr<std::unique_ptr<ViciClient>> ViciClient::Connect(ClientOptions opts) {
  std::unique_ptr<ViciClient> client(new ViciClient(std::move(opts), -1));
  TVD_RETURN_IF_ERROR(client->EnsureConnected());
  return client;
}

std::unique_ptr<ViciClient> ViciClient::FromFd(
    int fd, std::chrono::milliseconds timeout) {
  ClientOptions opts;
  opts.timeout = timeout;
  std::unique_ptr<ViciClient> client(new ViciClient(std::move(opts), fd));
  client->can_reconnect_ = false;
  return client;
}

ViciClient::ViciClient(ClientOptions opts, int fd)
    : opts_(std::move(opts)), fd_(fd) {}

ViciClient::~ViciClient() { Disconnect(); }

void ViciClient::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reader_.Clear();
}

Status ViciClient::EnsureConnected() {
  if (fd_ >= 0) return Status::Ok();
  if (!can_reconnect_) {
    return Unavailable("vici: connection closed (socket given by caller)");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (opts_.socket_path.empty() ||
      opts_.socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("vici: socket path '" + opts_.socket_path +
                           "' is empty or too long");
  }
  std::memcpy(addr.sun_path, opts_.socket_path.c_str(),
              opts_.socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("vici: socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return Unavailable("vici: connecting to " + opts_.socket_path + ": " +
                       std::strerror(err));
  }
  fd_ = fd;
  reader_.Clear();
  // A new connection has no registrations: restore ours.
  const auto deadline = Clock::now() + opts_.timeout;
  for (const Subscription& s : subscriptions_) {
    Status st = RegisterOnWire(PacketType::kEventRegister, s.event, deadline);
    if (!st.ok()) {
      Disconnect();
      return st.WithContext("vici: re-subscribing after reconnect");
    }
  }
  return Status::Ok();
}

Status ViciClient::SendPacket(const Packet& packet,
                              Clock::time_point deadline) {
  TVD_ASSIGN_OR_RETURN(SecureBytes bytes, EncodeSegment(packet));
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int r = ::poll(&p, 1, MillisLeft(deadline));
      if (r == 0) {
        Disconnect();
        return Timeout("vici: sending " +
                       std::string(PacketTypeName(packet.type)) + " '" +
                       packet.name + "' timed out");
      }
      continue;
    }
    int err = errno;
    Disconnect();
    return Unavailable("vici: sending '" + packet.name +
                       "' failed: " + std::strerror(err));
  }
  return Status::Ok();
}

StatusOr<Packet> ViciClient::ReceivePacket(Clock::time_point deadline) {
  for (;;) {
    StatusOr<std::optional<SecureBytes>> next = reader_.Next();
    if (!next.ok()) {
      Disconnect();
      return ProtocolError(next.status().message());
    }
    if (next->has_value()) {
      StatusOr<Packet> packet = DecodePacket((*next)->view());
      if (!packet.ok()) {
        // The framing is intact, but the peer is not speaking VICI: drop
        // the connection rather than guess what it meant.
        Disconnect();
        return ProtocolError(packet.status().message());
      }
      return packet;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Timeout("vici: no answer from charon in time");
    std::uint8_t buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      Disconnect();
      return Unavailable(
          std::string("vici: connection closed by charon") +
          (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
    }
    reader_.Append(
        std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
  }
}

void ViciClient::Deliver(const Packet& event) {
  for (const Subscription& s : subscriptions_) {
    if (s.event == event.name && s.callback)
      s.callback(event.name, event.message);
  }
}

StatusOr<Packet> ViciClient::ReceiveReply(Clock::time_point deadline,
                                          std::string_view stream_event,
                                          const StreamCallback* stream) {
  for (;;) {
    StatusOr<Packet> p = ReceivePacket(deadline);
    if (!p.ok()) {
      if (p.status().code() == ErrorCode::kTimeout) Disconnect();
      return p;
    }
    if (p->type != PacketType::kEvent) return p;
    if (stream != nullptr && p->name == stream_event) {
      (*stream)(p->message);
    } else {
      Deliver(*p);
    }
  }
}

Status ViciClient::RegisterOnWire(PacketType type, std::string_view event,
                                  Clock::time_point deadline) {
  Packet reg;
  reg.type = type;
  reg.name = std::string(event);
  TVD_RETURN_IF_ERROR(SendPacket(reg, deadline));
  TVD_ASSIGN_OR_RETURN(Packet reply, ReceiveReply(deadline));
  if (reply.type == PacketType::kEventConfirm) return Status::Ok();
  if (reply.type == PacketType::kEventUnknown) {
    return NotFound("vici: charon has no event '" + std::string(event) + "'");
  }
  Disconnect();
  return ProtocolError("vici: expected event-confirm for '" +
                       std::string(event) + "', got " +
                       std::string(PacketTypeName(reply.type)));
}

StatusOr<Message> ViciClient::CallOnce(std::string_view command,
                                       const Message& request,
                                       std::chrono::milliseconds extra_time,
                                       std::string_view stream_event,
                                       const StreamCallback* on_item) {
  const auto deadline = Clock::now() + opts_.timeout + extra_time;
  if (!stream_event.empty()) {
    TVD_RETURN_IF_ERROR(
        RegisterOnWire(PacketType::kEventRegister, stream_event, deadline));
  }
  Packet req;
  req.type = PacketType::kCmdRequest;
  req.name = std::string(command);
  req.message = request;
  TVD_RETURN_IF_ERROR(SendPacket(req, deadline));
  TVD_ASSIGN_OR_RETURN(Packet reply,
                       ReceiveReply(deadline, stream_event, on_item));
  if (reply.type == PacketType::kCmdUnknown) {
    return NotFound("vici: charon does not know command '" +
                    std::string(command) + "'");
  }
  if (reply.type != PacketType::kCmdResponse) {
    Disconnect();
    return ProtocolError("vici: expected cmd-response to '" +
                         std::string(command) + "', got " +
                         std::string(PacketTypeName(reply.type)));
  }
  if (!stream_event.empty()) {
    // Another subscription for the same event keeps it registered.
    bool still_wanted = false;
    for (const Subscription& s : subscriptions_) {
      if (s.event == stream_event) still_wanted = true;
    }
    if (!still_wanted) {
      TVD_RETURN_IF_ERROR(
          RegisterOnWire(PacketType::kEventUnregister, stream_event, deadline));
    }
  }
  return std::move(reply.message);
}

StatusOr<Message> ViciClient::Call(std::string_view command,
                                   const Message& request,
                                   std::chrono::milliseconds extra_time) {
  return CallStreaming(command, request, {}, nullptr, extra_time);
}

StatusOr<Message> ViciClient::CallStreaming(
    std::string_view command, const Message& request,
    std::string_view stream_event, const StreamCallback& on_item,
    std::chrono::milliseconds extra_time) {
  const bool was_connected = fd_ >= 0;
  TVD_RETURN_IF_ERROR(EnsureConnected());
  StatusOr<Message> r = CallOnce(command, request, extra_time, stream_event,
                                 on_item ? &on_item : nullptr);
  // A connection that had silently died (charon restarted since the last
  // call) fails on first use; retry once on a fresh one. A connection made
  // just now is not retried: the failure is real.
  if (!r.ok() && r.status().code() == ErrorCode::kUnavailable &&
      was_connected && can_reconnect_) {
    log::Debug("vici: reconnecting to ", opts_.socket_path, " for '", command,
               "'");
    TVD_RETURN_IF_ERROR(EnsureConnected());
    r = CallOnce(command, request, extra_time, stream_event,
                 on_item ? &on_item : nullptr);
  }
  return r;
}

Status ViciClient::Subscribe(std::string_view event, EventCallback callback) {
  TVD_RETURN_IF_ERROR(EnsureConnected());
  TVD_RETURN_IF_ERROR(RegisterOnWire(PacketType::kEventRegister, event,
                                     Clock::now() + opts_.timeout));
  subscriptions_.push_back({std::string(event), std::move(callback)});
  return Status::Ok();
}

Status ViciClient::Unsubscribe(std::string_view event) {
  std::erase_if(subscriptions_,
                [&](const Subscription& s) { return s.event == event; });
  if (fd_ < 0) return Status::Ok();
  return RegisterOnWire(PacketType::kEventUnregister, event,
                        Clock::now() + opts_.timeout);
}

Status ViciClient::PollEvents(std::chrono::milliseconds timeout,
                              const std::function<bool()>& done) {
  TVD_RETURN_IF_ERROR(EnsureConnected());
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done && done()) return Status::Ok();
    StatusOr<Packet> p = ReceivePacket(deadline);
    if (!p.ok()) {
      if (p.status().code() == ErrorCode::kTimeout) return Status::Ok();
      return p.status();
    }
    if (p->type != PacketType::kEvent) {
      Disconnect();
      return ProtocolError("vici: unexpected " +
                           std::string(PacketTypeName(p->type)) +
                           " while waiting for events");
    }
    Deliver(*p);
  }
}

Status ViciClient::CheckSuccess(std::string_view command,
                                const Message& response) {
  if (IsYes(response, "success")) return Status::Ok();
  std::string err = response.ValueOr("errmsg", "no error message");
  std::string msg = "vici " + std::string(command) + ": " + err;
  if (err.find("not found") != std::string::npos ||
      err.find("no matching") != std::string::npos) {
    return NotFound(msg);
  }
  return FailedPrecondition(msg);
}

StatusOr<Message> ViciClient::Version() { return Call("version", Message()); }

Status ViciClient::LoadConn(std::string_view name, const Message& conn) {
  Message req;
  req.AddSection(name, conn);
  TVD_ASSIGN_OR_RETURN(Message res, Call("load-conn", req));
  return CheckSuccess("load-conn '" + std::string(name) + "'", res);
}

Status ViciClient::UnloadConn(std::string_view name) {
  Message req;
  req.Add("name", name);
  TVD_ASSIGN_OR_RETURN(Message res, Call("unload-conn", req));
  return CheckSuccess("unload-conn", res);
}

StatusOr<std::vector<std::string>> ViciClient::GetConns() {
  TVD_ASSIGN_OR_RETURN(Message res, Call("get-conns", Message()));
  const std::vector<std::string>* conns = res.List("conns");
  if (conns == nullptr) return std::vector<std::string>{};
  return *conns;
}

StatusOr<std::vector<Message>> ViciClient::ListConns(std::string_view ike) {
  Message req;
  if (!ike.empty()) req.Add("ike", ike);
  std::vector<Message> out;
  StreamCallback collect = [&](const Message& m) { out.push_back(m); };
  TVD_ASSIGN_OR_RETURN(Message res,
                       CallStreaming("list-conns", req, "list-conn", collect));
  (void)res;
  return out;
}

Status ViciClient::LoadShared(std::string_view id, std::string_view type,
                              std::span<const std::uint8_t> secret,
                              const std::vector<std::string>& owners) {
  Message req;
  req.Add("id", id);
  req.Add("type", type);
  req.AddSecret("data", secret);
  req.AddList("owners", owners);
  TVD_ASSIGN_OR_RETURN(Message res, Call("load-shared", req));
  return CheckSuccess("load-shared '" + std::string(id) + "'", res);
}

Status ViciClient::UnloadShared(std::string_view id) {
  Message req;
  req.Add("id", id);
  TVD_ASSIGN_OR_RETURN(Message res, Call("unload-shared", req));
  return CheckSuccess("unload-shared '" + std::string(id) + "'", res);
}

StatusOr<std::vector<std::string>> ViciClient::GetShared() {
  TVD_ASSIGN_OR_RETURN(Message res, Call("get-shared", Message()));
  const std::vector<std::string>* keys = res.List("keys");
  if (keys == nullptr) return std::vector<std::string>{};
  return *keys;
}

Status ViciClient::Initiate(
    std::string_view child, std::string_view ike,
    std::chrono::milliseconds timeout,
    const std::function<void(const std::string&)>& log) {
  Message req;
  req.Add("child", child);
  if (!ike.empty()) req.Add("ike", ike);
  req.Add("timeout", std::to_string(timeout.count()));
  req.Add("init-limits", "no");
  StreamCallback on_log = [&](const Message& m) {
    if (log) log(m.ValueOr("msg", ""));
  };
  TVD_ASSIGN_OR_RETURN(
      Message res,
      CallStreaming("initiate", req, "control-log", on_log, timeout));
  return CheckSuccess("initiate '" + std::string(child) + "'", res);
}

Status ViciClient::Terminate(std::string_view ike,
                             std::chrono::milliseconds timeout, bool force) {
  Message req;
  req.Add("ike", ike);
  req.Add("timeout", std::to_string(timeout.count()));
  if (force) req.Add("force", "yes");
  TVD_ASSIGN_OR_RETURN(Message res, Call("terminate", req, timeout));
  return CheckSuccess("terminate '" + std::string(ike) + "'", res);
}

StatusOr<std::vector<Message>> ViciClient::ListSas(std::string_view ike) {
  Message req;
  if (!ike.empty()) req.Add("ike", ike);
  std::vector<Message> out;
  StreamCallback collect = [&](const Message& m) { out.push_back(m); };
  TVD_ASSIGN_OR_RETURN(Message res,
                       CallStreaming("list-sas", req, "list-sa", collect));
  (void)res;
  return out;
}

}  // namespace tvd::vici

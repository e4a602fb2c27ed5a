#include "tvd/libvirt_filter/libvirt_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::libvirt_filter {

StatusOr<int> ConnectUnixSocket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(path + ": socket path too long");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("connect " + path, err);
  }
  return fd;
}

LibvirtClient::LibvirtClient(int fd, EventHandler on_event,
                             std::chrono::milliseconds timeout)
    : fd_(fd), on_event_(std::move(on_event)), timeout_(timeout) {}

StatusOr<std::unique_ptr<LibvirtClient>> LibvirtClient::Open(
    int fd, const std::string& uri, EventHandler on_event,
    std::chrono::milliseconds timeout) {
  std::unique_ptr<LibvirtClient> client(
      new LibvirtClient(fd, std::move(on_event), timeout));
  client->reader_ = std::thread([c = client.get()] { c->ReadLoop(); });
  OpenArgs args;
  args.name = uri;
  TVD_RETURN_IF_ERROR(
      client->CallOk(kProcConnectOpen, EncodeOpenArgs(args)).status());
  return client;
}

LibvirtClient::~LibvirtClient() {
  broken_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  ::close(fd_);
}

Status LibvirtClient::Send(const std::vector<std::uint8_t>& bytes) {
  MutexLock lock(write_mu_);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken_ = true;
      return Unavailable("libvirtd connection closed while sending");
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

void LibvirtClient::ReadLoop() {
  PacketAssembler assembler;
  std::vector<std::uint8_t> buf(64 * 1024);
  while (!broken_) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    assembler.Append({buf.data(), static_cast<std::size_t>(n)});
    Packet p;
    while (true) {
      StatusOr<bool> got = assembler.Next(p);
      if (!got.ok()) {
        log::Warning("libvirtd sent a bad packet: ", got.status().message());
        broken_ = true;
        break;
      }
      if (!*got) break;
      if (p.header.program == kKeepaliveProgram) {
        if (p.header.procedure == kKeepalivePing) {
          PacketHeader pong = p.header;
          pong.procedure = kKeepalivePong;
          (void)Send(EncodePacket(pong, {}));
        }
        continue;
      }
      if (p.header.program != kRemoteProgram) continue;
      if (p.header.type == MessageType::kMessage) {
        if (on_event_) on_event_(p);
        continue;
      }
      if (p.header.type != MessageType::kReply) continue;
      MutexLock lock(mu_);
      auto it = pending_.find(p.header.serial);
      if (it != pending_.end()) {
        it->second = Reply{p.header.status, std::move(p.payload)};
        cv_.NotifyAll();
      }
    }
  }
  broken_ = true;
  MutexLock lock(mu_);
  cv_.NotifyAll();
}

StatusOr<LibvirtClient::Reply> LibvirtClient::Call(
    std::int32_t procedure, std::span<const std::uint8_t> args) {
  if (broken_) return Unavailable("libvirtd connection is closed");
  std::uint32_t serial;
  {
    MutexLock lock(mu_);
    serial = next_serial_++;
    pending_[serial];
  }
  PacketHeader h;
  h.program = kRemoteProgram;
  h.version = kRemoteVersion;
  h.procedure = procedure;
  h.type = MessageType::kCall;
  h.serial = serial;
  Status sent = Send(EncodePacket(h, args));
  MutexLock lock(mu_);
  if (!sent.ok()) {
    pending_.erase(serial);
    return sent;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  bool done = true;
  while (!pending_[serial].has_value() && !broken_.load()) {
    if (!cv_.WaitUntil(mu_, deadline)) {
      done = pending_[serial].has_value() || broken_.load();
      break;
    }
  }
  std::optional<Reply> reply = std::move(pending_[serial]);
  pending_.erase(serial);
  if (reply) return std::move(*reply);
  if (!done) {
    return Timeout("libvirtd did not answer procedure " +
                   std::to_string(procedure) + " within " +
                   std::to_string(timeout_.count()) + " ms");
  }
  return Unavailable("libvirtd connection closed");
}

StatusOr<std::vector<std::uint8_t>> LibvirtClient::CallOk(
    std::int32_t procedure, std::span<const std::uint8_t> args) {
  TVD_ASSIGN_OR_RETURN(Reply reply, Call(procedure, args));
  if (reply.status == MessageStatus::kOk) return std::move(reply.payload);
  StatusOr<RemoteError> error = DecodeError(reply.payload);
  if (!error.ok()) return error.status();
  std::string message = error->message.value_or("unknown libvirt error");
  if (error->code == kErrNoDomain) return NotFound(message);
  return FailedPrecondition("libvirtd: " + message);
}

StatusOr<std::int32_t> LibvirtClient::RegisterDomainEvents(
    std::int32_t event_id) {
  CallbackRegisterArgs args;
  args.event_id = event_id;
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> ret,
                       CallOk(kProcConnectDomainEventCallbackRegisterAny,
                              EncodeCallbackRegisterArgs(args)));
  return DecodeInt(ret);
}

StatusOr<std::string> LibvirtClient::GetXmlDesc(const RemoteDomain& dom) {
  XdrWriter w;
  WriteDomain(w, dom);
  w.U32(0);
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> ret,
                       CallOk(kProcDomainGetXmlDesc, w.bytes()));
  return DecodeStringRet(ret);
}

StatusOr<std::optional<RemoteDomain>> LibvirtClient::Lookup(
    std::int32_t procedure, const std::vector<std::uint8_t>& args) {
  StatusOr<std::vector<std::uint8_t>> ret = CallOk(procedure, args);
  if (!ret.ok()) {
    if (ret.status().code() == ErrorCode::kNotFound) {
      return std::optional<RemoteDomain>();
    }
    return ret.status();
  }
  TVD_ASSIGN_OR_RETURN(RemoteDomain d, DecodeLeadingDomain(*ret));
  return std::optional<RemoteDomain>(std::move(d));
}

StatusOr<std::optional<RemoteDomain>> LibvirtClient::LookupByName(
    const std::string& name) {
  return Lookup(kProcDomainLookupByName, EncodeStringRet(name));
}

StatusOr<std::optional<RemoteDomain>> LibvirtClient::LookupByUuid(
    const Uuid& uuid) {
  XdrWriter w;
  w.FixedUuid(uuid);
  return Lookup(kProcDomainLookupByUuid, w.Take());
}

StatusOr<std::optional<RemoteDomain>> LibvirtClient::LookupById(
    std::int32_t id) {
  return Lookup(kProcDomainLookupById, EncodeInt(id));
}

StatusOr<std::vector<RemoteDomain>> LibvirtClient::ListAll(
    std::uint32_t flags) {
  XdrWriter w;
  w.I32(1);  // need_results
  w.U32(flags);
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint8_t> ret,
                       CallOk(kProcConnectListAllDomains, w.bytes()));
  TVD_ASSIGN_OR_RETURN(DomainList list, DecodeDomainList(ret));
  return std::move(list.domains);
}

// --- AdminConnection ------------------------------------------------------

AdminConnection::AdminConnection(std::string socket_path, std::string uri)
    : socket_path_(std::move(socket_path)), uri_(std::move(uri)) {}

AdminConnection::~AdminConnection() {
  std::shared_ptr<LibvirtClient> client;
  {
    MutexLock lock(mu_);
    client = std::move(client_);
  }
}

void AdminConnection::OnEvent(const Packet& packet) {
  // Every event the admin connection registered for is a callback event
  // {callbackID, domain, ...}; any of them may mean the domain's XML (and
  // so its owner) changed, so the entry is read again next time.
  StatusOr<RemoteDomain> dom = DecodeDomainAfterInt(packet.payload);
  if (dom.ok()) {
    cache_.Invalidate(dom->uuid);
  } else {
    cache_.Clear();
  }
}

StatusOr<std::shared_ptr<LibvirtClient>> AdminConnection::Client() {
  MutexLock lock(mu_);
  if (client_ != nullptr && !client_->broken()) return client_;
  client_.reset();
  TVD_ASSIGN_OR_RETURN(int fd, ConnectUnixSocket(socket_path_));
  TVD_ASSIGN_OR_RETURN(
      std::unique_ptr<LibvirtClient> client,
      LibvirtClient::Open(fd, uri_, [this](const Packet& p) { OnEvent(p); }));
  TVD_RETURN_IF_ERROR(client->RegisterDomainEvents(kEventIdLifecycle).status());
  StatusOr<std::int32_t> metadata =
      client->RegisterDomainEvents(kEventIdMetadataChange);
  if (!metadata.ok()) {
    log::Warning("libvirtd has no metadata-change events (",
                 metadata.status().message(),
                 "); ownership follows lifecycle events only");
  }
  cache_.Clear();
  client_ = std::move(client);
  return client_;
}

Status AdminConnection::Connect() { return Client().status(); }

StatusOr<std::string> AdminConnection::GetXmlDesc(const RemoteDomain& dom) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->GetXmlDesc(dom);
}

StatusOr<std::optional<RemoteDomain>> AdminConnection::LookupByName(
    const std::string& name) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->LookupByName(name);
}

StatusOr<std::optional<RemoteDomain>> AdminConnection::LookupByUuid(
    const Uuid& uuid) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->LookupByUuid(uuid);
}

StatusOr<std::optional<RemoteDomain>> AdminConnection::LookupById(
    std::int32_t id) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->LookupById(id);
}

StatusOr<std::vector<RemoteDomain>> AdminConnection::ListAll(
    std::uint32_t flags) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->ListAll(flags);
}

StatusOr<LibvirtClient::Reply> AdminConnection::Call(
    std::int32_t procedure, std::span<const std::uint8_t> args) {
  TVD_ASSIGN_OR_RETURN(std::shared_ptr<LibvirtClient> c, Client());
  return c->Call(procedure, args);
}

}  // namespace tvd::libvirt_filter

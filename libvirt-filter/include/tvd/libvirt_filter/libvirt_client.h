// A minimal libvirt RPC client over libvirtd's UNIX socket: the relay's own
// admin-side connection (ownership lookups, lifecycle events) and the
// benchmark's/tests' raw client.
//
// Calls may come from several threads at once; one reader thread matches
// replies to calls by serial, answers keepalive pings, and hands
// asynchronous messages (events) to the event handler. Every call has a
// deadline. After the connection breaks, every call fails with Unavailable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tvd/libvirt_filter/domain_directory.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/libvirt_filter/rpc_packet.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

// Connects a stream socket to the UNIX socket `path`. IoError naming the
// path on failure.
StatusOr<int> ConnectUnixSocket(const std::string& path);

class LibvirtClient : public DomainDirectory {
 public:
  using EventHandler = std::function<void(const Packet&)>;

  // Takes over the connected socket `fd` (closed on failure), starts the
  // reader, and opens `uri` with ConnectOpen. `on_event` (may be empty) runs
  // on the reader thread for every REMOTE-program message.
  static StatusOr<std::unique_ptr<LibvirtClient>> Open(
      int fd, const std::string& uri, EventHandler on_event,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~LibvirtClient() override;

  struct Reply {
    MessageStatus status = MessageStatus::kOk;
    std::vector<std::uint8_t> payload;  // ret, or remote_error on kError
  };
  // One call of the REMOTE program. Timeout, or Unavailable when the
  // connection is gone.
  StatusOr<Reply> Call(std::int32_t procedure,
                       std::span<const std::uint8_t> args);
  // Call, with an error reply turned into a Status: NotFound for "domain
  // not found", FailedPrecondition with libvirt's message otherwise.
  StatusOr<std::vector<std::uint8_t>> CallOk(
      std::int32_t procedure, std::span<const std::uint8_t> args);

  // ConnectDomainEventCallbackRegisterAny for all domains; the callback id.
  StatusOr<std::int32_t> RegisterDomainEvents(std::int32_t event_id);

  bool broken() const { return broken_.load(); }

  // DomainDirectory.
  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override;
  StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string& name) override;
  StatusOr<std::optional<RemoteDomain>> LookupByUuid(const Uuid& uuid) override;
  StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t id) override;
  StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t flags) override;

 private:
  LibvirtClient(int fd, EventHandler on_event,
                std::chrono::milliseconds timeout);
  void ReadLoop();
  Status Send(const std::vector<std::uint8_t>& bytes);
  StatusOr<std::optional<RemoteDomain>> Lookup(
      std::int32_t procedure, const std::vector<std::uint8_t>& args);

  int fd_;
  EventHandler on_event_;
  std::chrono::milliseconds timeout_;
  Mutex write_mu_;  // held over one whole packet's write
  Mutex mu_;
  CondVar cv_;  // with mu_: a reply arrived or the connection broke
  std::uint32_t next_serial_ TVD_GUARDED_BY(mu_) = 1;
  std::map<std::uint32_t, std::optional<Reply>> pending_ TVD_GUARDED_BY(mu_);
  std::atomic<bool> broken_{false};
  std::thread reader_;
};

// The relay's admin-side view: a LibvirtClient that is (re)opened on demand,
// registers for lifecycle and metadata-change events, and keeps an
// OwnershipCache current from them (cleared on every reconnect, since events
// may have been missed).
class AdminConnection : public DomainDirectory {
 public:
  AdminConnection(std::string socket_path, std::string uri);
  ~AdminConnection() override;

  OwnershipCache& cache() { return cache_; }
  // Opens the connection now (the relay does at start so that errors show).
  Status Connect();

  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override;
  StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string& name) override;
  StatusOr<std::optional<RemoteDomain>> LookupByUuid(const Uuid& uuid) override;
  StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t id) override;
  StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t flags) override;

  // A raw call on the admin connection (used to learn libvirtd's exact
  // "domain not found" replies).
  StatusOr<LibvirtClient::Reply> Call(std::int32_t procedure,
                                      std::span<const std::uint8_t> args);

 private:
  StatusOr<std::shared_ptr<LibvirtClient>> Client();
  void OnEvent(const Packet& packet);

  std::string socket_path_;
  std::string uri_;
  OwnershipCache cache_{*this};
  Mutex mu_;
  std::shared_ptr<LibvirtClient> client_ TVD_GUARDED_BY(mu_);
};

}  // namespace tvd::libvirt_filter

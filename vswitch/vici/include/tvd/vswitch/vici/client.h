// A VICI client: commands to charon over its UNIX socket, streamed answers,
// and event subscriptions.
//
// One connection, one command at a time (the protocol has no request ids).
// Not thread-safe: one thread owns a client. Events are delivered on that
// thread, from inside Call*/PollEvents, to the callbacks registered with
// Subscribe: there is no background thread and no locking.
//
// Failures come back as Status values:
//   Unavailable  the socket could not be reached or the connection dropped
//                (the next call reconnects once and re-subscribes events)
//   Timeout      charon did not answer within the deadline (the connection is
//                then closed, because a late answer would be taken for the
//                answer to the next command)
//   Protocol     charon sent something that is not VICI (decoder's reason)
//   NotFound     CMD_UNKNOWN / EVENT_UNKNOWN, or charon's "... not found"
//   FailedPrecondition  charon answered success=no (its errmsg is included)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/vici/codec.h"
#include "tvd/vswitch/vici/message.h"

namespace tvd::vici {

struct ClientOptions {
  // Path of charon's VICI socket (the part after unix://).
  std::string socket_path;
  // Deadline for a whole command (send, streamed events, response) unless the
  // command sets its own (Initiate/Terminate add their timeout to it).
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
};

class ViciClient {
 public:
  using EventCallback =
      std::function<void(const std::string& event, const Message& message)>;
  using StreamCallback = std::function<void(const Message& message)>;

  // Connects to opts.socket_path. Unavailable when nobody listens there.
  static StatusOr<std::unique_ptr<ViciClient>> Connect(ClientOptions opts);
  // Wraps an already connected stream socket (owned from now on); used by
  // tests with a socketpair. Such a client never reconnects.
  static std::unique_ptr<ViciClient> FromFd(int fd,
                                            std::chrono::milliseconds timeout);

  ~ViciClient();
  ViciClient(const ViciClient&) = delete;
  ViciClient& operator=(const ViciClient&) = delete;

  // ---- generic commands

  // Sends CMD_REQUEST `command` and returns the CMD_RESPONSE message as is
  // (no success=no interpretation). Events arriving meanwhile go to
  // subscriptions.
  StatusOr<Message> Call(std::string_view command, const Message& request,
                         std::chrono::milliseconds extra_time = {});

  // Like Call, for commands that stream their answer as `stream_event`
  // events: registers for that event, calls, passes each streamed message to
  // `on_item`, unregisters.
  StatusOr<Message> CallStreaming(std::string_view command,
                                  const Message& request,
                                  std::string_view stream_event,
                                  const StreamCallback& on_item,
                                  std::chrono::milliseconds extra_time = {});

  // ---- events

  // Registers for `event` (e.g. "ike-updown", "child-updown") and delivers
  // each occurrence to `callback`. NotFound when charon has no such event.
  Status Subscribe(std::string_view event, EventCallback callback);
  Status Unsubscribe(std::string_view event);
  // Waits up to `timeout` for events and delivers them; returns early (OK)
  // as soon as `done()` is true after a delivery. Unavailable if the
  // connection drops.
  Status PollEvents(std::chrono::milliseconds timeout,
                    const std::function<bool()>& done = nullptr);

  // ---- typed commands (success=no becomes an error naming the command)

  StatusOr<Message> Version();
  // load-conn { name { conn... } }; replaces a connection of the same name.
  Status LoadConn(std::string_view name, const Message& conn);
  // unload-conn; NotFound when there is no such connection.
  Status UnloadConn(std::string_view name);
  // Names of connections loaded over VICI (get-conns).
  StatusOr<std::vector<std::string>> GetConns();
  // list-conns (streamed list-conn); each item is { name { ... } }.
  StatusOr<std::vector<Message>> ListConns(std::string_view ike = {});
  // load-shared with a unique id; `type` is "IKE" for a PSK. The secret
  // travels only in the request buffer, which is wiped after sending.
  Status LoadShared(std::string_view id, std::string_view type,
                    std::span<const std::uint8_t> secret,
                    const std::vector<std::string>& owners);
  // unload-shared by id.
  Status UnloadShared(std::string_view id);
  // Ids of shared keys loaded over VICI (get-shared).
  StatusOr<std::vector<std::string>> GetShared();
  // initiate a CHILD_SA (and its IKE_SA), waiting up to `timeout`. Each
  // control-log line goes to `log` when given. charon's errmsg on failure.
  // A negative timeout returns as soon as charon has queued the initiation.
  Status Initiate(std::string_view child, std::string_view ike,
                  std::chrono::milliseconds timeout,
                  const std::function<void(const std::string&)>& log = nullptr);
  // terminate all IKE_SAs of config `ike`; NotFound when none is up.
  // `force` destroys them without waiting for the peer's DELETE answer.
  Status Terminate(std::string_view ike, std::chrono::milliseconds timeout,
                   bool force);
  // list-sas (streamed list-sa); each item is { ike-name { ... } }. `ike`
  // filters by config name when not empty.
  StatusOr<std::vector<Message>> ListSas(std::string_view ike = {});

 private:
  ViciClient(ClientOptions opts, int fd);

  Status EnsureConnected();
  void Disconnect();
  Status SendPacket(const Packet& packet,
                    std::chrono::steady_clock::time_point deadline);
  StatusOr<Packet> ReceivePacket(
      std::chrono::steady_clock::time_point deadline);
  // Reads packets, delivering events (to `stream` when named
  // `stream_event`, else to subscriptions), until one that is not an EVENT.
  StatusOr<Packet> ReceiveReply(std::chrono::steady_clock::time_point deadline,
                                std::string_view stream_event = {},
                                const StreamCallback* stream = nullptr);
  void Deliver(const Packet& event);
  Status RegisterOnWire(PacketType type, std::string_view event,
                        std::chrono::steady_clock::time_point deadline);
  StatusOr<Message> CallOnce(std::string_view command, const Message& request,
                             std::chrono::milliseconds extra_time,
                             std::string_view stream_event,
                             const StreamCallback* on_item);
  Status CheckSuccess(std::string_view command, const Message& response);

  struct Subscription {
    std::string event;
    EventCallback callback;
  };

  ClientOptions opts_;
  int fd_ = -1;
  bool can_reconnect_ = true;
  SegmentReader reader_;
  std::vector<Subscription> subscriptions_;
};

using ViciClientPtr = std::unique_ptr<ViciClient>;

}  // namespace tvd::vici

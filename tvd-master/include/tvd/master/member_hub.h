// The live member channels and the hand-off of messages to them. Any thread
// may push a message to a session; the session's own channel thread writes
// it. A push wakes that thread at once through an eventfd (it sleeps in
// Connection::WaitReadableOrWoken), so fan-out latency is the time to write
// the frames, not a polling period.
//
// Locks: MemberHub::mutex_ guards the map of current sessions; each
// MemberSession::mutex_ guards its outbox. The hub's lock is never held
// while a session's lock is taken, and neither is held during I/O.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tvd/channel/frame.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::master {

class MemberSession {
 public:
  // IoError "eventfd: <reason>" when no wakeup descriptor can be made.
  static StatusOr<std::shared_ptr<MemberSession>> Create(std::string tvd,
                                                         std::string host);
  ~MemberSession();
  MemberSession(const MemberSession&) = delete;
  MemberSession& operator=(const MemberSession&) = delete;

  const std::string& tvd() const { return tvd_; }
  const std::string& host() const { return host_; }

  // Queues a frame and wakes the channel thread. After End() nothing more
  // is queued.
  void Push(channel::MessageType type,
            std::shared_ptr<const SecureBytes> payload);
  // The channel closes once the queued frames are written.
  void End();

  struct Batch {
    std::vector<
        std::pair<channel::MessageType, std::shared_ptr<const SecureBytes>>>
        frames;
    bool end = false;
  };
  // Consumes the wakeup, then takes what is queued (so a push racing with
  // this call either lands in this batch or leaves the wakeup set).
  Batch Take();
  // The descriptor the channel thread waits on besides its socket.
  int wake_fd() const { return wake_fd_; }

  // True once this channel passed its attestation (the join's round), false
  // from the moment a re-attestation failed. Key release and VM reports
  // require it.
  std::atomic<bool> attested{false};

 private:
  MemberSession(std::string tvd, std::string host, int fd)
      : tvd_(std::move(tvd)), host_(std::move(host)), wake_fd_(fd) {}
  void Wake();

  const std::string tvd_;
  const std::string host_;
  const int wake_fd_;
  std::mutex mutex_;
  Batch outbox_;  // mutex_
};
using MemberSessionPtr = std::shared_ptr<MemberSession>;

class MemberHub {
 public:
  // Makes `session` the current channel of (tvd, host); returns the one it
  // replaces (or null), which the caller ends.
  MemberSessionPtr Attach(const MemberSessionPtr& session);
  // Forgets `session` if it is still the current one of its (tvd, host).
  void Detach(const MemberSessionPtr& session);
  // The current session of (tvd, host), or null; Remove also forgets it.
  MemberSessionPtr Find(const std::string& tvd, const std::string& host) const;
  MemberSessionPtr Remove(const std::string& tvd, const std::string& host);
  // True when (tvd, host) has a current channel that passed attestation.
  bool Attested(const std::string& tvd, const std::string& host) const;
  // Ends every channel (the master can no longer keep its promises).
  void EndAll();

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, MemberSessionPtr>
      sessions_;  // mutex_
};

}  // namespace tvd::master

// The live member channels and the hand-off of messages to them. Any thread
// may push a message to a session; the session's own channel thread writes
// it. A push wakes that thread at once through an eventfd (it sleeps in
// Connection::WaitReadableOrWoken), so fan-out latency is the time to write
// the frames, not a polling period.
//
// What is queued is the whole encoded frame, so a message for many members
// (a PolicyUpdate for every member of a TVD) is encoded once (FrameOnce)
// and the same bytes are queued for each; each channel still writes them
// through its own TLS session (its own encryption).
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
#include "tvd/mutex.h"
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

  // Queues `frame` (the encoded frame of a message of `type`, see
  // FrameOnce; written as is) and wakes the channel thread unless what is
  // queued already did. After End() nothing more is queued.
  void Push(channel::MessageType type,
            std::shared_ptr<const SecureBytes> frame);
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
  Mutex mutex_;
  Batch outbox_ TVD_GUARDED_BY(mutex_);
};
using MemberSessionPtr = std::shared_ptr<MemberSession>;

// Encodes each distinct message of one fan-out once. The frame for (type,
// payload) is channel::EncodeFrame(type, payload) in SecureBytes (a
// MembershipUpdate carries the TVD key; the temporary encoding is wiped),
// and the same frame is returned for the same type and payload object.
// Payloads are told apart by address: they must stay alive while this
// object is used (they do: the fan-out holds them).
class FrameOnce {
 public:
  std::shared_ptr<const SecureBytes> Frame(
      channel::MessageType type,
      const std::shared_ptr<const SecureBytes>& payload);
  // Distinct frames encoded so far.
  std::size_t encoded() const { return frames_.size(); }

 private:
  std::map<std::pair<channel::MessageType, const SecureBytes*>,
           std::shared_ptr<const SecureBytes>>
      frames_;
};

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
  mutable Mutex mutex_;
  std::map<std::pair<std::string, std::string>, MemberSessionPtr> sessions_
      TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::master

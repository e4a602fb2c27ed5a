// The live member channels and the hand-off of messages to them. Any thread
// may push a message to a session; whoever serves the channel (the member
// loop, member_loop.h) writes it. A push tells the server through the
// session's notifier (or, without one, an eventfd), once per batch and not
// per message: at once for anything but a MembershipUpdate, and for
// MembershipUpdates only the first of a batch (the server writes those
// together, in one message, at a pace it chooses; see MergeMembershipUpdates).
//
// What is queued is the whole encoded frame, so a message for many members
// (a PolicyUpdate for every member of a TVD) is encoded once (FrameOnce)
// and the same bytes are queued for each; each channel still writes them
// through its own TLS session (its own encryption). A MembershipUpdate is
// also queued decoded (once for all members), so the server can merge
// several without decoding them per member.
//
// Locks: MemberHub::mutex_ guards the map of current sessions; each
// MemberSession::mutex_ guards its outbox. The hub's lock is never held
// while a session's lock is taken, and neither is held during I/O or while
// a notifier runs.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tvd/channel/frame.h"
#include "tvd/mutex.h"
#include "tvd/protocol/messages.h"
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
  // FrameOnce; written as is) and wakes the channel's server unless what is
  // queued already did (see the top of this file). `update` is the decoded
  // MembershipUpdate of a kMembershipUpdate frame (FrameOnce::Decoded), or
  // null. After End() nothing more is queued.
  void Push(channel::MessageType type, std::shared_ptr<const SecureBytes> frame,
            std::shared_ptr<const protocol::MembershipUpdate> update = nullptr);
  // The channel closes once the queued frames are written.
  void End();

  struct Batch {
    std::vector<
        std::pair<channel::MessageType, std::shared_ptr<const SecureBytes>>>
        frames;
    // Aligned with `frames`: the decoded MembershipUpdate, or null.
    std::vector<std::shared_ptr<const protocol::MembershipUpdate>> updates;
    bool end = false;
  };
  // Consumes the wakeup, then takes what is queued (so a push racing with
  // this call either lands in this batch or wakes again).
  Batch Take();
  // The descriptor a server without a notifier waits on (an eventfd);
  // -1 once a notifier was set (the descriptor is closed then: a member
  // channel costs the master one descriptor, its socket).
  int wake_fd() const;

  // How urgent a wakeup is: kMembership when only MembershipUpdates were
  // queued since the last Take(), kNow for anything else or the end.
  enum class Urgency { kNone, kMembership, kNow };
  // From now on a push calls `notify` (outside every lock, possibly on any
  // thread, possibly once more after ClearNotifier returned) instead of
  // writing the eventfd, which is closed. Returns what is queued already,
  // so nothing queued before is missed.
  Urgency SetNotifier(std::function<void(Urgency)> notify);
  void ClearNotifier();

  // True once this channel passed its attestation (the join's round), false
  // from the moment a re-attestation failed. Key release and VM reports
  // require it.
  std::atomic<bool> attested{false};

 private:
  MemberSession(std::string tvd, std::string host, int fd)
      : tvd_(std::move(tvd)), host_(std::move(host)), wake_fd_(fd) {}
  // Raises the pending urgency to `u`; returns the notifier to call
  // (outside the lock) when that is news to the server, else null (and
  // writes the eventfd when there is no notifier).
  std::function<void(Urgency)> RaiseLocked(Urgency u) TVD_REQUIRES(mutex_);
  void WakeLocked() TVD_REQUIRES(mutex_);

  const std::string tvd_;
  const std::string host_;
  mutable Mutex mutex_;
  int wake_fd_ TVD_GUARDED_BY(mutex_);
  Batch outbox_ TVD_GUARDED_BY(mutex_);
  Urgency told_ TVD_GUARDED_BY(mutex_) = Urgency::kNone;
  std::function<void(Urgency)> notify_ TVD_GUARDED_BY(mutex_);
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
  // The MembershipUpdate in `payload`, decoded once per payload object
  // (null when it does not decode: the frame is then sent as it is).
  std::shared_ptr<const protocol::MembershipUpdate> Decoded(
      const std::shared_ptr<const SecureBytes>& payload);

 private:
  std::map<const SecureBytes*,
           std::shared_ptr<const protocol::MembershipUpdate>>
      decoded_;
  std::map<std::pair<channel::MessageType, const SecureBytes*>,
           std::shared_ptr<const SecureBytes>>
      frames_;
};

// Merges consecutive MembershipUpdates of one TVD into as few as the
// protocol allows (at most protocol::kMaxMemberChanges changes each), so a
// member that missed a storm of N joins gets one message of N changes, not
// N messages. Each result carries the changes of a run of whole inputs in
// order, and the epoch and member count of the last input of the run: a
// host that applies it ends where it would after the inputs one by one.
// Its key is the last non-empty key of the run (the key of that epoch;
// the epoch only changes with a key), empty when the run has none. An
// input larger than the limit by itself stays a message of its own.
// `updates` must be non-empty, of one TVD, in the order they were decided.
std::vector<protocol::MembershipUpdate> MergeMembershipUpdates(
    const std::vector<const protocol::MembershipUpdate*>& updates);

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
  // Find (or, where `remove[i]`, Remove) for many at once, under one
  // lock: a decision about a TVD of N members names N of them, and hosts
  // that come in sorted order (as the registry lists them) are matched in
  // one pass over the TVD's sessions. Returns one entry per (tvds[i],
  // hosts[i]), null where there is no current session.
  std::vector<MemberSessionPtr> FindAll(
      const std::vector<const std::string*>& tvds,
      const std::vector<const std::string*>& hosts,
      const std::vector<bool>& remove);
  // Current sessions.
  std::size_t size() const;
  // True when (tvd, host) has a current channel that passed attestation.
  bool Attested(const std::string& tvd, const std::string& host) const;
  // Ends every channel (the master can no longer keep its promises).
  void EndAll();

 private:
  mutable Mutex mutex_;
  // TVD -> host -> session, sorted by host within a TVD.
  std::map<std::string, std::map<std::string, MemberSessionPtr>, std::less<>>
      sessions_ TVD_GUARDED_BY(mutex_);
  std::size_t size_ TVD_GUARDED_BY(mutex_) = 0;
};

}  // namespace tvd::master

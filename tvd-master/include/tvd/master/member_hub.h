// The live member channels and the hand-off of messages to them. Any thread
// may push a message to a session; whoever serves the channel (the member
// loop, member_loop.h) writes it. A push tells the server through the
// session's notifier (or, without one, an eventfd), once per batch and not
// per message: at once for anything but a MembershipUpdate without a key,
// and for those only the first of a batch (the server writes them
// together, in one message, at a pace it chooses; see
// MergeMembershipUpdates). An update with a new epoch's key goes at once:
// a member's removal must not wait for a window to take effect.
//
// What is queued is the whole encoded frame, so a message for many members
// (a PolicyUpdate for every member of a TVD) is encoded once (FrameOnce)
// and the same bytes are queued for each; each channel still writes them
// through its own TLS session (its own encryption). A MembershipUpdate is
// also queued decoded (once for all members), so the server can merge
// several without decoding them per member.
//
// Broadcasts: a message for every member of a TVD (Notice::broadcast) is
// not pushed N times. It is published once to the TVD's feed, a list of
// the TVD's broadcasts in decision order; each session attached to the
// TVD reads the feed from where it last stopped when it is taken (Take),
// interleaved with what was pushed to it alone in the order both
// happened. A publish tells the member loop once per TVD (SetFeedNotifier)
// instead of waking N sessions: the cost of a join on the master no
// longer grows with the TVD's size. Feed entries are freed once every
// session has read past them.
//
// Which broadcasts a session reads: those decided after it was attached
// (each broadcast has a sequence number reserved when it is decided,
// under the decision lock), not leaving out its own host, and, once the
// session ended (End, or a pushed message with `end`), none published
// after that.
//
// Locks: MemberHub::mutex_ guards the map of current sessions and the
// feeds' sequence numbers; each MemberSession::mutex_ guards its outbox;
// a feed's own lock guards its list. Order: a session's lock, then a
// feed's; the hub's lock, then a feed's. The hub's lock is never held while
// a session's lock is taken, and none is held during I/O or while a
// notifier runs.
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

// One published broadcast of a TVD's feed (internal to member_hub.cc).
struct FeedNode;
struct Feed;

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

  // How urgent a wakeup is: kMembership when only MembershipUpdates
  // without a key were queued since the last Take(), kNow for anything
  // else or the end.
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
  friend class MemberHub;
  // Tells the server (as a push of that urgency would) without queuing.
  void Poke(Urgency u);
  // The feed's newest position (null without a feed).
  std::shared_ptr<FeedNode> FeedTailLocked() TVD_REQUIRES(mutex_);
  // Moves the feed's broadcasts this session reads, up to `stop` (null:
  // every published one), into `out`. With the feed's lock held.
  void ReadFeedLocked(const FeedNode* stop, Batch& out) TVD_REQUIRES(mutex_);
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
  // The TVD's feed (set by MemberHub::Attach; null: broadcasts never
  // reach this session), the next entry to read, the first sequence
  // number read, and where an ended session stops.
  std::shared_ptr<Feed> feed_ TVD_GUARDED_BY(mutex_);
  std::shared_ptr<FeedNode> cursor_ TVD_GUARDED_BY(mutex_);
  std::uint64_t min_seq_ TVD_GUARDED_BY(mutex_) = 0;
  std::shared_ptr<FeedNode> end_at_ TVD_GUARDED_BY(mutex_);
  // Aligned with outbox_.frames: the feed's position when each was pushed.
  std::vector<std::shared_ptr<FeedNode>> positions_ TVD_GUARDED_BY(mutex_);
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
  MemberHub() = default;
  ~MemberHub();
  MemberHub(const MemberHub&) = delete;
  MemberHub& operator=(const MemberHub&) = delete;

  // Makes `session` the current channel of (tvd, host); returns the one it
  // replaces (or null), which the caller ends. The session reads the
  // TVD's broadcasts reserved from now on, also when it was attached
  // before (a join decided again: its grant holds the earlier ones).
  MemberSessionPtr Attach(const MemberSessionPtr& session);

  // The sequence number of a broadcast to `tvd` decided now. Called under
  // the lock that orders decisions, as Attach is; Publish follows in the
  // same order (the journal's), or not at all for a decision that failed.
  std::uint64_t Reserve(const std::string& tvd);
  // Publishes broadcast `seq` of `tvd` (`frame`: as for Push; `update`: its
  // decoded MembershipUpdate or null; `except`: the host it leaves out, or
  // empty) and tells the feed notifier, or without one every session of
  // the TVD.
  void Publish(const std::string& tvd, std::uint64_t seq,
               channel::MessageType type,
               std::shared_ptr<const SecureBytes> frame,
               std::shared_ptr<const protocol::MembershipUpdate> update,
               const std::string& except);
  // From now on a publish calls `notify(tvd, urgency, members)` (outside
  // every lock, on the publishing thread, possibly once more after it was
  // replaced) instead of telling each session; the urgency is as a push
  // of the message's type would raise, `members` the TVD's member count
  // after a MembershipUpdate (all masters' members: what paces the
  // writes), else 0. Null: each session again.
  using FeedNotifier = std::function<void(
      const std::string& tvd, MemberSession::Urgency u, std::size_t members)>;
  void SetFeedNotifier(FeedNotifier notify);
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
  struct FeedState {
    std::shared_ptr<Feed> feed;
    std::uint64_t next_seq = 1;
  };
  FeedState& FeedOfLocked(const std::string& tvd) TVD_REQUIRES(mutex_);
  std::map<std::string, FeedState, std::less<>> feeds_ TVD_GUARDED_BY(mutex_);
  FeedNotifier feed_notify_ TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::master

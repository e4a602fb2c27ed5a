// The member channels once their join is done, served by one event-loop
// thread (epoll) instead of a thread each. A joined member channel is idle
// almost all the time: it wakes for a push (member_hub.h) or for its next
// re-attestation. Thousands of them on their own threads made every
// membership change wake thousands of threads; here a push wakes the loop
// once, and the loop writes to each channel without blocking (a slow or
// silent peer holds its own unsent bytes, never the loop).
//
// What takes time on the peer's side runs on a thread of its own, with the
// blocking, deadline-bound Connection calls, while the loop leaves that
// channel alone: a re-attestation round, and the read of whatever the peer
// sent unasked (which ends the channel). The channel comes back to the
// loop when the round passed.
//
// Pacing: anything but a MembershipUpdate is written at once (with the
// MembershipUpdates queued before it, in order). MembershipUpdates that
// come within one window of the last write wait for the end of that
// window and leave merged (MergeMembershipUpdates) in one write. The
// window grows with the TVD's size (200 us per member of the TVD, see
// TellTvd; 50 ms to 2 s), so a storm of joins to a TVD of N members costs
// at most about N / window writes a second (5,000), not N per join;
// windows end on a common grid, so the members of a TVD mostly take the
// same updates at the same tick and the merged message is encoded once
// for all of them. A TVD's broadcasts (member_hub.h) are taken by all its
// channels at the TVD's tick: the TVD is told once per broadcast, and
// each tick costs one pass over its channels.
//
// Thread safety: Adopt, Stop and size may be called from any thread; the
// hooks run on the loop thread (ended) or on a round's thread (round).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "tvd/channel/connection.h"
#include "tvd/clock.h"
#include "tvd/master/member_hub.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::master {

class MemberLoop {
 public:
  using Ms = std::chrono::milliseconds;
  struct Hooks {
    // The re-attestation interval of a channel just adopted.
    std::function<Ms(const MemberSessionPtr&)> first_interval;
    // One re-attestation round on the caller's thread (blocking I/O on
    // `conn` allowed); the interval until the next one. An error ends the
    // channel with it (the session may also have been ended meanwhile).
    std::function<StatusOr<Ms>(channel::Connection& conn,
                               const MemberSessionPtr& session)>
        round;
    // The channel is closed; `status` says why (OK: its session ended or
    // the loop stopped). On the loop's thread, or Stop()'s.
    std::function<void(const MemberSessionPtr& session,
                       const channel::Connection& conn, const Status& status)>
        ended;
  };

  // Starts the loop thread. IoError when epoll or eventfd cannot be made.
  // Re-attestation rounds are timed by `clock` (ReattestSchedule).
  static StatusOr<std::unique_ptr<MemberLoop>> Start(const Clock& clock,
                                                     Hooks hooks);
  ~MemberLoop();
  MemberLoop(const MemberLoop&) = delete;
  MemberLoop& operator=(const MemberLoop&) = delete;

  // A broadcast was published to the feed of `tvd` (member_hub.h): its
  // channels take it at the TVD's next window tick (kMembership) or at
  // once (kNow). `members`: the TVD's member count if the broadcast says
  // (0: unchanged); the window follows it or the TVD's channels here,
  // whichever is larger (replicas sharing a TVD each serve a part of
  // its members, and each member hears of every join). Any thread.
  void TellTvd(const std::string& tvd, MemberSession::Urgency u,
               std::size_t members);

  // Serves `conn` (joined, its grant written) for `session` from now on.
  // Unavailable "master is stopping" after Stop() (the channel is closed
  // and `ended` is not called); IoError when the socket cannot be
  // registered.
  Status Adopt(channel::ConnectionPtr conn, MemberSessionPtr session);

  // Closes every channel (rounds in progress see their socket shut down
  // and end), joins every thread. `ended` is called for each channel.
  // Idempotent.
  void Stop();

  // Channels served now (adopted and not yet ended).
  std::size_t size() const;

  // The write window of a TVD with `members` channels (see above).
  static Ms Window(std::size_t members);

 private:
  using Steady = std::chrono::steady_clock;
  struct Channel;
  using ChannelPtr = std::shared_ptr<Channel>;
  // What a channel's thread hands back to the loop.
  struct Returned {
    std::uint64_t id;
    StatusOr<Ms> next;  // the interval until the next round, or the end
  };
  // What the pushes told the loop, by channel.
  struct Told {
    std::uint64_t id;
    MemberSession::Urgency urgency;
  };
  struct TvdTold {
    std::string tvd;
    MemberSession::Urgency urgency;
    std::size_t members;
  };
  // The channels of one TVD and its window: a TVD's broadcasts are taken
  // by all its channels at one tick.
  struct TvdChannels {
    std::map<std::uint64_t, std::shared_ptr<Channel>> channels;
    std::optional<std::chrono::steady_clock::time_point> flush_at;
    std::chrono::steady_clock::time_point last_flush{};
    std::uint64_t generation = 0;
    std::size_t members = 0;  // as the TVD's last MembershipUpdate said
  };

  MemberLoop(const Clock& clock, Hooks hooks, int epoll_fd, int wake_fd);
  void Tell(std::uint64_t id, MemberSession::Urgency u);
  void Run();
  void Wake();
  // Loop thread only, below.
  void Drain();
  void AdoptNow(const ChannelPtr& ch);
  void OnTold(const ChannelPtr& ch, MemberSession::Urgency u);
  void OnTvdTold(const TvdTold& told);
  // The window of a TVD's channels (see Window).
  Ms WindowOf(const TvdChannels& g) const;
  // Every channel of `tvd` takes what it has (busy ones when they are back).
  void FlushTvd(const std::string& tvd, MemberSession::Urgency u);
  void Count(const ChannelPtr& ch);
  void Uncount(const ChannelPtr& ch);
  void OnEvent(const ChannelPtr& ch, std::uint32_t events);
  void OnTimer(const ChannelPtr& ch, bool round);
  // Takes the session's outbox and starts writing it (merged).
  void Flush(const ChannelPtr& ch);
  // Flush up to the write: takes the outbox into `out`; false when there
  // is nothing to write (the channel may have ended).
  bool Prepare(const ChannelPtr& ch);
  void ContinueWrite(const ChannelPtr& ch);
  // ContinueWrite for many channels: their TLS writes (encryption and the
  // socket's copy, the bulk of a fan-out) on this thread and the writer
  // thread, then each channel's state here.
  void WriteAll(const std::vector<ChannelPtr>& channels);
  void AfterWrite(const ChannelPtr& ch,
                  const StatusOr<channel::Connection::Progress>& p);
  // Registers the channel for `events`; false when that failed (the
  // channel is then ended).
  bool Watch(const ChannelPtr& ch, std::uint32_t events);
  void ArmFlush(const ChannelPtr& ch);
  void ArmRound(const ChannelPtr& ch);
  // Back to idle after a write or a round: what was told meanwhile, a
  // round that fell due, or peer input.
  void Resume(const ChannelPtr& ch);
  void Hand(const ChannelPtr& ch, bool read);
  void End(const ChannelPtr& channel, const Status& status);
  std::shared_ptr<const SecureBytes> Compose(const MemberSession::Batch& batch);
  Steady::time_point FlushTime(const ChannelPtr& ch,
                               Steady::time_point now) const;
  void ReapThreads();

  class Writer;  // the second thread of WriteAll

  const Clock& clock_;
  const Hooks hooks_;
  std::unique_ptr<Writer> writer_;  // null on one core
  const int epoll_fd_;
  const int wake_fd_;
  std::thread thread_;

  Mutex stop_mutex_;  // one Stop() at a time
  mutable Mutex mutex_;
  bool stopping_ TVD_GUARDED_BY(mutex_) = false;
  std::vector<ChannelPtr> adopted_ TVD_GUARDED_BY(mutex_);
  std::vector<Told> told_ TVD_GUARDED_BY(mutex_);
  std::vector<TvdTold> told_tvds_ TVD_GUARDED_BY(mutex_);
  std::vector<Returned> returned_ TVD_GUARDED_BY(mutex_);
  bool woken_ TVD_GUARDED_BY(mutex_) = false;
  std::size_t count_ TVD_GUARDED_BY(mutex_) = 0;
  // Threads of rounds and reads, by channel id; finished ones are joined
  // by the loop.
  std::map<std::uint64_t, std::thread> threads_ TVD_GUARDED_BY(mutex_);
  std::vector<std::uint64_t> finished_ TVD_GUARDED_BY(mutex_);
  // The shutdown handle of each channel on a thread (a duplicate of its
  // socket, closed when the channel is back): Stop() reaches a channel
  // whose thread blocks in a read through it. An idle channel costs one
  // descriptor, its socket.
  std::map<std::uint64_t, int> stop_fds_ TVD_GUARDED_BY(mutex_);

  // Loop thread only.
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, ChannelPtr> channels_;
  std::map<std::string, TvdChannels, std::less<>> per_tvd_;
  struct Timer {
    Steady::time_point at;
    std::uint64_t id;
    bool round;  // else a flush
    std::uint64_t generation;
    std::string tvd{};  // set: the flush of this TVD's channels
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  // The last composed write, by the frames it holds: members of a TVD
  // flushed at the same tick mostly hold the same frames.
  std::vector<const SecureBytes*> composed_key_;
  std::shared_ptr<const SecureBytes> composed_;
};

}  // namespace tvd::master

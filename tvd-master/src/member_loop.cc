#include "member_loop.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "tvd/log.h"
#include "tvd/master/reattest_schedule.h"

namespace tvd::master {

using channel::Connection;
using channel::MessageType;
using Urgency = MemberSession::Urgency;

namespace {

constexpr std::uint64_t kWakeKey = 0;  // epoll data of the loop's eventfd
constexpr int kMaxEvents = 256;
// Fewer writes than this stay on the loop's thread (handing over costs
// more than a few small writes).
constexpr std::size_t kParallelWrites = 16;

}  // namespace

// Runs one job on a thread of its own while the caller runs another.
class MemberLoop::Writer {
 public:
  Writer() : thread_([this] { Run(); }) {}
  ~Writer() {
    {
      MutexLock lock(mutex_);
      stop_ = true;
    }
    cv_.NotifyAll();
    thread_.join();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Runs `here` on the caller's thread and `there` on the writer's;
  // returns when both returned.
  void Both(const std::function<void()>& here,
            const std::function<void()>& there) {
    {
      MutexLock lock(mutex_);
      job_ = &there;
      taken_ = false;
    }
    cv_.NotifyAll();
    here();
    MutexLock lock(mutex_);
    while (job_ != nullptr) cv_.Wait(mutex_);
  }

 private:
  void Run() {
    while (true) {
      const std::function<void()>* job;
      {
        MutexLock lock(mutex_);
        while (!stop_ && (job_ == nullptr || taken_)) cv_.Wait(mutex_);
        if (stop_) return;
        job = job_;
        taken_ = true;
      }
      (*job)();
      {
        MutexLock lock(mutex_);
        job_ = nullptr;
        taken_ = false;
      }
      cv_.NotifyAll();
    }
  }

  Mutex mutex_;
  CondVar cv_;
  const std::function<void()>* job_ TVD_GUARDED_BY(mutex_) = nullptr;
  bool taken_ TVD_GUARDED_BY(mutex_) = false;
  bool stop_ TVD_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

struct MemberLoop::Channel {
  enum class State {
    kIdle,     // in epoll for input
    kWriting,  // `out` partly written, waiting for the socket
    kAway,     // on a thread of its own (round or read)
  };
  Channel(const tvd::Clock& clock, Ms interval) : schedule(clock, interval) {}

  std::uint64_t id = 0;
  channel::ConnectionPtr conn;
  MemberSessionPtr session;
  State state = State::kIdle;
  bool ended = false;
  std::uint32_t watched = 0;  // epoll events registered; 0: not registered
  std::shared_ptr<const SecureBytes> out;  // being written
  bool end_after_write = false;
  Urgency told = Urgency::kNone;  // pushes not yet taken
  std::optional<Steady::time_point> flush_at;
  bool round_due = false;  // its timer fired while the channel was busy
  Steady::time_point last_write{};
  ReattestSchedule schedule;
  std::uint64_t flush_generation = 0;
  std::uint64_t round_generation = 0;
};

MemberLoop::Ms MemberLoop::Window(std::size_t members) {
  auto w = std::chrono::duration_cast<Ms>(std::chrono::microseconds(200) *
                                          static_cast<long long>(members));
  return std::clamp(w, Ms(50), Ms(2000));
}

StatusOr<std::unique_ptr<MemberLoop>> MemberLoop::Start(const Clock& clock,
                                                        Hooks hooks) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ErrnoError("epoll_create1", errno);
  int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    int err = errno;
    ::close(ep);
    return ErrnoError("eventfd", err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) != 0) {
    int err = errno;
    ::close(wake);
    ::close(ep);
    return ErrnoError("epoll_ctl", err);
  }
  std::unique_ptr<MemberLoop> loop(
      new MemberLoop(clock, std::move(hooks), ep, wake));
  loop->thread_ = std::thread([l = loop.get()] { l->Run(); });
  return loop;
}

MemberLoop::MemberLoop(const Clock& clock, Hooks hooks, int epoll_fd,
                       int wake_fd)
    : clock_(clock),
      hooks_(std::move(hooks)),
      writer_(std::thread::hardware_concurrency() > 1
                  ? std::make_unique<Writer>()
                  : nullptr),
      epoll_fd_(epoll_fd),
      wake_fd_(wake_fd) {}

MemberLoop::~MemberLoop() {
  Stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

std::size_t MemberLoop::size() const {
  MutexLock lock(mutex_);
  return count_;
}

void MemberLoop::Wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

Status MemberLoop::Adopt(channel::ConnectionPtr conn,
                         MemberSessionPtr session) {
  auto ch = std::make_shared<Channel>(clock_, hooks_.first_interval(session));
  ch->conn = std::move(conn);
  ch->session = std::move(session);
  bool wake;
  {
    MutexLock lock(mutex_);
    if (stopping_) return Unavailable("master is stopping");
    ch->id = next_id_++;
    ++count_;
    adopted_.push_back(ch);
    wake = !woken_;
    woken_ = true;
  }
  if (wake) Wake();
  return Status::Ok();
}

void MemberLoop::TellTvd(const std::string& tvd, Urgency u,
                         std::size_t members) {
  bool wake;
  {
    MutexLock lock(mutex_);
    if (stopping_) return;
    told_tvds_.push_back({tvd, u, members});
    wake = !woken_;
    woken_ = true;
  }
  if (wake) Wake();
}

void MemberLoop::Count(const ChannelPtr& ch) {
  per_tvd_[ch->session->tvd()].channels[ch->id] = ch;
}

void MemberLoop::Uncount(const ChannelPtr& ch) {
  auto n = per_tvd_.find(ch->session->tvd());
  if (n == per_tvd_.end()) return;
  n->second.channels.erase(ch->id);
  if (n->second.channels.empty()) per_tvd_.erase(n);
}

void MemberLoop::Tell(std::uint64_t id, Urgency u) {
  bool wake;
  {
    MutexLock lock(mutex_);
    if (stopping_) return;
    told_.push_back({id, u});
    wake = !woken_;
    woken_ = true;
  }
  if (wake) Wake();
}

void MemberLoop::Stop() {
  MutexLock stop_lock(stop_mutex_);
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  if (!thread_.joinable()) return;  // stopped before
  Wake();
  thread_.join();
  // The loop is gone: what it held is this thread's now. Rounds and reads
  // in progress see their socket shut down and return.
  std::map<std::uint64_t, std::thread> threads;
  std::vector<ChannelPtr> adopted;
  {
    MutexLock lock(mutex_);
    for (auto& [id, fd] : stop_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
    adopted.swap(adopted_);
    returned_.clear();
    told_.clear();
    told_tvds_.clear();
    finished_.clear();
  }
  for (auto& [id, t] : threads) t.join();
  for (const ChannelPtr& ch : adopted) {
    channels_[ch->id] = ch;
    Count(ch);
  }
  std::vector<ChannelPtr> all;
  for (auto& [id, ch] : channels_) all.push_back(ch);
  for (const ChannelPtr& ch : all) End(ch, Status::Ok());
}

void MemberLoop::Run() {
  epoll_event events[kMaxEvents];
  auto live_tvd = [this](const Timer& t) {
    auto it = per_tvd_.find(t.tvd);
    return it != per_tvd_.end() && it->second.flush_at &&
           it->second.generation == t.generation;
  };
  auto live = [this](const Timer& t) -> ChannelPtr {
    auto it = channels_.find(t.id);
    if (it == channels_.end()) return nullptr;
    const Channel& ch = *it->second;
    return (t.round ? ch.round_generation : ch.flush_generation) == t.generation
               ? it->second
               : nullptr;
  };
  while (true) {
    int timeout = -1;
    while (!timers_.empty()) {
      const Timer& top = timers_.top();
      if (top.tvd.empty() ? !live(top) : !live_tvd(top)) {
        timers_.pop();  // stale
        continue;
      }
      auto left =
          std::chrono::ceil<Ms>(timers_.top().at - Steady::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
      break;
    }
    int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      log::Error("member loop: epoll_wait: ", std::strerror(errno));
      n = 0;
    }
    std::vector<ChannelPtr> writable;  // written together below
    for (int i = 0; i < n; ++i) {
      // A copy: epoll_event is packed on x86-64, so its u64 is not aligned
      // for the reference map::find takes.
      const std::uint64_t key = events[i].data.u64;
      if (key == kWakeKey) continue;  // drained below
      auto it = channels_.find(key);
      if (it == channels_.end()) continue;
      ChannelPtr ch = it->second;  // End() drops it from the map
      if (!ch->ended && ch->state == Channel::State::kWriting) {
        writable.push_back(std::move(ch));
        continue;
      }
      OnEvent(ch, events[i].events);
    }
    WriteAll(writable);
    {
      MutexLock lock(mutex_);
      if (stopping_) return;
    }
    Drain();
    auto now = Steady::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      Timer t = timers_.top();
      timers_.pop();
      if (!t.tvd.empty()) {
        if (live_tvd(t)) FlushTvd(t.tvd, Urgency::kMembership);
        continue;
      }
      if (ChannelPtr ch = live(t)) OnTimer(ch, t.round);
    }
  }
}

void MemberLoop::Drain() {
  std::vector<ChannelPtr> adopted;
  std::vector<Told> told;
  std::vector<TvdTold> told_tvds;
  std::vector<Returned> returned;
  // The wakeup first, then the lists: what is added after the swap below
  // wakes the loop again (woken_ is false by then); read after the swap,
  // that wakeup could be consumed here and its news left waiting.
  std::uint64_t count;
  [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
  {
    MutexLock lock(mutex_);
    adopted.swap(adopted_);
    told.swap(told_);
    told_tvds.swap(told_tvds_);
    returned.swap(returned_);
    woken_ = false;
  }
  ReapThreads();
  for (const ChannelPtr& ch : adopted) AdoptNow(ch);
  for (Returned& back : returned) {
    auto it = channels_.find(back.id);
    if (it == channels_.end()) continue;
    ChannelPtr ch = it->second;
    {
      MutexLock lock(mutex_);
      auto fd = stop_fds_.find(back.id);
      if (fd != stop_fds_.end()) {
        ::close(fd->second);
        stop_fds_.erase(fd);
      }
    }
    if (!back.next.ok()) {
      End(ch, back.next.status());
      continue;
    }
    ch->schedule.Passed(*back.next);
    ch->round_due = false;
    ch->state = Channel::State::kIdle;
    if (!Watch(ch, EPOLLIN)) continue;
    ArmRound(ch);
    Resume(ch);
  }
  for (const Told& t : told) {
    auto it = channels_.find(t.id);
    if (it != channels_.end()) {
      ChannelPtr ch = it->second;
      OnTold(ch, t.urgency);
    }
  }
  for (const TvdTold& t : told_tvds) OnTvdTold(t);
}

MemberLoop::Ms MemberLoop::WindowOf(const TvdChannels& g) const {
  return Window(std::max(g.channels.size(), g.members));
}

void MemberLoop::OnTvdTold(const TvdTold& told) {
  const std::string& tvd = told.tvd;
  const Urgency u = told.urgency;
  auto it = per_tvd_.find(tvd);
  // No channel yet: each takes it when adopted.
  if (it == per_tvd_.end()) return;
  TvdChannels& g = it->second;
  if (told.members != 0) g.members = told.members;
  if (u == Urgency::kNow) {
    FlushTvd(tvd, u);
    return;
  }
  if (g.flush_at) return;  // planned
  const auto now = Steady::now();
  const Ms window = WindowOf(g);
  // After a quiet window at once, otherwise at the window's end on the
  // window's grid (as FlushTime for one channel).
  if (now - g.last_flush >= window) {
    FlushTvd(tvd, u);
    return;
  }
  auto at = (g.last_flush + window).time_since_epoch();
  auto grid = std::chrono::duration_cast<Steady::duration>(window);
  g.flush_at =
      Steady::time_point((at + grid - Steady::duration(1)) / grid * grid);
  timers_.push({*g.flush_at, 0, false, ++g.generation, tvd});
}

void MemberLoop::FlushTvd(const std::string& tvd, Urgency u) {
  auto it = per_tvd_.find(tvd);
  if (it == per_tvd_.end()) return;
  TvdChannels& g = it->second;
  g.flush_at.reset();
  ++g.generation;
  g.last_flush = Steady::now();
  // A copy: a channel that ends leaves the map.
  std::vector<ChannelPtr> all;
  all.reserve(g.channels.size());
  for (const auto& [id, ch] : g.channels) all.push_back(ch);
  std::vector<ChannelPtr> ready;
  for (const ChannelPtr& ch : all) {
    if (ch->ended) continue;
    if (ch->state != Channel::State::kIdle) {
      ch->told = std::max(ch->told, u);  // taken when it is back
      continue;
    }
    if (Prepare(ch)) ready.push_back(ch);
  }
  WriteAll(ready);
}

void MemberLoop::ReapThreads() {
  std::vector<std::thread> done;
  {
    MutexLock lock(mutex_);
    for (std::uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      done.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_.clear();
  }
  for (std::thread& t : done) t.join();  // each has returned its channel
}

void MemberLoop::AdoptNow(const ChannelPtr& ch) {
  channels_[ch->id] = ch;
  Count(ch);
  const std::uint64_t id = ch->id;
  // What the TVD's feed holds since the grant is taken at once (its last
  // write is long ago), like anything pushed before.
  ch->told =
      std::max(ch->session->SetNotifier([this, id](Urgency u) { Tell(id, u); }),
               Urgency::kMembership);
  if (!Watch(ch, EPOLLIN)) return;
  ArmRound(ch);
  Resume(ch);
}

bool MemberLoop::Watch(const ChannelPtr& ch, std::uint32_t events) {
  if (ch->ended) return false;
  if (ch->watched == events) return true;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = ch->id;
  int op = ch->watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (::epoll_ctl(epoll_fd_, op, ch->conn->fd(), &ev) != 0) {
    End(ch, ErrnoError("cannot watch the member channel", errno));
    return false;
  }
  ch->watched = events;
  return true;
}

void MemberLoop::ArmFlush(const ChannelPtr& ch) {
  timers_.push({*ch->flush_at, ch->id, false, ++ch->flush_generation});
}

void MemberLoop::ArmRound(const ChannelPtr& ch) {
  timers_.push({Steady::now() + ch->schedule.Remaining(), ch->id, true,
                ++ch->round_generation});
}

void MemberLoop::Resume(const ChannelPtr& ch) {
  if (ch->ended || ch->state != Channel::State::kIdle) return;
  if (ch->conn->HasBufferedInput()) {
    Hand(ch, /*read=*/true);
    return;
  }
  Urgency u = ch->told;
  ch->told = Urgency::kNone;
  if (u != Urgency::kNone) OnTold(ch, u);
  if (ch->ended || ch->state != Channel::State::kIdle) return;
  if (ch->round_due) {
    ch->round_due = false;
    OnTimer(ch, /*round=*/true);
  }
}

MemberLoop::Steady::time_point MemberLoop::FlushTime(
    const ChannelPtr& ch, Steady::time_point now) const {
  auto n = per_tvd_.find(ch->session->tvd());
  const Ms window = n == per_tvd_.end() ? Window(1) : WindowOf(n->second);
  // An update after a quiet window leaves at once.
  if (now - ch->last_write >= window) return now;
  // Otherwise at the end of the window, rounded up to the window's grid
  // (common to the TVD's channels).
  auto at = (ch->last_write + window).time_since_epoch();
  auto grid = std::chrono::duration_cast<Steady::duration>(window);
  return Steady::time_point((at + grid - Steady::duration(1)) / grid * grid);
}

void MemberLoop::OnTold(const ChannelPtr& ch, Urgency u) {
  if (ch->ended) return;
  if (ch->state != Channel::State::kIdle) {
    ch->told = std::max(ch->told, u);  // taken when it is back or written
    return;
  }
  if (u == Urgency::kNow) {
    Flush(ch);
    return;
  }
  if (u == Urgency::kNone || ch->flush_at) return;  // already planned
  auto now = Steady::now();
  ch->flush_at = FlushTime(ch, now);
  if (*ch->flush_at <= now) {
    Flush(ch);
  } else {
    ArmFlush(ch);
  }
}

void MemberLoop::OnTimer(const ChannelPtr& ch, bool round) {
  if (ch->ended) return;
  if (ch->state != Channel::State::kIdle) {
    // A flush waits for the write (Resume takes what was told); a round
    // is remembered.
    if (round) ch->round_due = true;
    return;
  }
  if (!round) {
    if (ch->flush_at) Flush(ch);
    return;
  }
  if (ch->schedule.Due()) {
    Hand(ch, /*read=*/false);
  } else {
    ArmRound(ch);  // the clock says not yet (an injected clock)
  }
}

void MemberLoop::OnEvent(const ChannelPtr& ch, std::uint32_t events) {
  if (ch->ended) return;
  if (ch->state == Channel::State::kWriting) {
    ContinueWrite(ch);
    return;
  }
  if (ch->state == Channel::State::kIdle &&
      (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
    Hand(ch, /*read=*/true);
  }
}

std::shared_ptr<const SecureBytes> MemberLoop::Compose(
    const MemberSession::Batch& batch) {
  const auto& frames = batch.frames;
  if (frames.size() == 1) return frames[0].second;
  std::vector<const SecureBytes*> key;
  key.reserve(frames.size());
  for (const auto& f : frames) key.push_back(f.second.get());
  if (key == composed_key_ && composed_) return composed_;

  // Runs of decoded MembershipUpdates become merged ones; the rest is
  // written as it was framed.
  std::vector<std::uint8_t> all;
  auto append = [&all](std::span<const std::uint8_t> b) {
    all.insert(all.end(), b.begin(), b.end());
  };
  std::vector<const protocol::MembershipUpdate*> run;
  std::size_t run_start = 0;
  auto close_run = [&](std::size_t end) {
    if (run.size() == 1) {
      append(frames[run_start].second->view());
    } else if (run.size() > 1) {
      for (const protocol::MembershipUpdate& m : MergeMembershipUpdates(run)) {
        std::vector<std::uint8_t> payload = protocol::Encode(m);
        std::vector<std::uint8_t> frame =
            channel::EncodeFrame(MessageType::kMembershipUpdate, payload);
        append(frame);
        OPENSSL_cleanse(payload.data(), payload.size());
        OPENSSL_cleanse(frame.data(), frame.size());
      }
    }
    run.clear();
    run_start = end;
  };
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const protocol::MembershipUpdate* u =
        frames[i].first == MessageType::kMembershipUpdate
            ? batch.updates[i].get()
            : nullptr;
    if (u != nullptr && (run.empty() || run.front()->tvd == u->tvd)) {
      if (run.empty()) run_start = i;
      run.push_back(u);
      continue;
    }
    close_run(i);
    if (u != nullptr) {
      run_start = i;
      run.push_back(u);
    } else {
      append(frames[i].second->view());
    }
  }
  close_run(frames.size());
  // Frames may hold a TVD key: kept in SecureBytes, the copy wiped.
  composed_ =
      std::make_shared<const SecureBytes>(std::span<const std::uint8_t>(all));
  OPENSSL_cleanse(all.data(), all.size());
  composed_key_ = std::move(key);
  return composed_;
}

void MemberLoop::Flush(const ChannelPtr& ch) {
  if (Prepare(ch)) ContinueWrite(ch);
}

bool MemberLoop::Prepare(const ChannelPtr& ch) {
  ch->flush_at.reset();
  ++ch->flush_generation;
  ch->told = Urgency::kNone;
  MemberSession::Batch batch = ch->session->Take();
  if (batch.frames.empty()) {
    if (batch.end) End(ch, Status::Ok());
    return false;
  }
  ch->out = Compose(batch);
  ch->end_after_write = batch.end;
  ch->state = Channel::State::kWriting;
  return true;
}

void MemberLoop::ContinueWrite(const ChannelPtr& ch) {
  AfterWrite(ch, ch->conn->WriteNonBlocking(ch->out->view()));
}

void MemberLoop::WriteAll(const std::vector<ChannelPtr>& channels) {
  if (channels.empty()) return;
  if (!writer_ || channels.size() < kParallelWrites) {
    for (const ChannelPtr& ch : channels) {
      if (!ch->ended && ch->state == Channel::State::kWriting) {
        ContinueWrite(ch);
      }
    }
    return;
  }
  // Each channel's connection is used by one of the two threads only; the
  // loop's own state is touched after both are done.
  std::vector<std::optional<StatusOr<Connection::Progress>>> results(
      channels.size());
  auto write = [&](std::size_t first) {
    for (std::size_t i = first; i < channels.size(); i += 2) {
      const Channel& ch = *channels[i];
      if (ch.ended || ch.state != Channel::State::kWriting) continue;
      results[i] = ch.conn->WriteNonBlocking(ch.out->view());
    }
  };
  std::function<void()> there = [&] { write(1); };
  writer_->Both([&] { write(0); }, there);
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (results[i] && !channels[i]->ended) AfterWrite(channels[i], *results[i]);
  }
}

void MemberLoop::AfterWrite(const ChannelPtr& ch,
                            const StatusOr<Connection::Progress>& p) {
  if (!p.ok()) {
    End(ch, p.status());
    return;
  }
  if (*p == Connection::Progress::kWantWrite) {
    Watch(ch, EPOLLOUT);
    return;
  }
  if (*p == Connection::Progress::kWantRead) {
    Watch(ch, EPOLLIN);
    return;
  }
  ch->out.reset();
  ch->last_write = Steady::now();
  ch->state = Channel::State::kIdle;
  if (ch->end_after_write) {
    End(ch, Status::Ok());
    return;
  }
  if (!Watch(ch, EPOLLIN)) return;
  Resume(ch);
}

void MemberLoop::Hand(const ChannelPtr& ch, bool read) {
  if (ch->watched != 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, ch->conn->fd(), nullptr);
    ch->watched = 0;
  }
  ch->state = Channel::State::kAway;
  ++ch->round_generation;  // re-armed when it is back
  ch->round_due = false;
  // The thread has the connection to itself until it hands it back.
  Connection* conn = ch->conn.get();
  MemberSessionPtr session = ch->session;
  const std::uint64_t id = ch->id;
  // A handle for Stop() to shut the socket down while the thread blocks
  // in it (the thread may close the Connection's own descriptor).
  int stop_fd = ::fcntl(conn->fd(), F_DUPFD_CLOEXEC, 0);
  auto work = [this, conn, session, id, read] {
    StatusOr<Ms> next = Unavailable("not run");
    if (read) {
      StatusOr<channel::Frame> frame = conn->ReadFrame(Ms(10000));
      if (!frame.ok()) {
        next = frame.status();
      } else if (frame->type == MessageType::kError) {
        next = channel::DecodeErrorPayload(frame->payload).WithContext("peer");
      } else {
        next = ProtocolError(
            "unsolicited message type " +
            std::to_string(static_cast<int>(frame->type)) +
            " on the member channel (requests go on their own connection)");
      }
    } else {
      next = hooks_.round(*conn, session);
    }
    if (!next.ok()) conn->SendErrorAndClose(next.status());
    bool wake;
    {
      MutexLock lock(mutex_);
      returned_.push_back({id, std::move(next)});
      finished_.push_back(id);
      wake = !woken_;
      woken_ = true;
    }
    if (wake) Wake();
  };
  MutexLock lock(mutex_);
  if (stop_fd >= 0) stop_fds_[id] = stop_fd;
  threads_[id] = std::thread(std::move(work));
}

void MemberLoop::End(const ChannelPtr& channel, const Status& status) {
  ChannelPtr ch = channel;  // `channel` may be the map's own, erased below
  if (ch->ended) return;
  ch->ended = true;
  if (ch->watched != 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, ch->conn->fd(), nullptr);
    ch->watched = 0;
  }
  ch->out.reset();
  ch->conn->Close();
  ch->session->ClearNotifier();
  if (channels_.erase(ch->id) > 0) Uncount(ch);
  {
    MutexLock lock(mutex_);
    auto fd = stop_fds_.find(ch->id);
    if (fd != stop_fds_.end()) {
      ::close(fd->second);
      stop_fds_.erase(fd);
    }
    --count_;
  }
  // Told last: whoever learns of the end finds the loop without the
  // channel (size() counts it no more).
  if (hooks_.ended) hooks_.ended(ch->session, *ch->conn, status);
}

}  // namespace tvd::master

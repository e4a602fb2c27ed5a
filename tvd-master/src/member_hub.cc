#include "tvd/master/member_hub.h"

#include <openssl/crypto.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tvd/mutex.h"

namespace tvd::master {

struct FeedNode {
  // Written once, under the feed's lock, when published (`next` set then:
  // a node without `next` is the feed's unpublished tail).
  std::uint64_t seq = 0;
  channel::MessageType type{};
  std::shared_ptr<const SecureBytes> frame;
  std::shared_ptr<const protocol::MembershipUpdate> update;
  std::string except;
  std::shared_ptr<FeedNode> next;

  FeedNode() = default;
  FeedNode(const FeedNode&) = delete;
  FeedNode& operator=(const FeedNode&) = delete;
  // Frees the nodes only this one held one after another: a session that
  // never read a storm's thousands of broadcasts would otherwise free
  // them recursively, one stack frame each.
  ~FeedNode() {
    std::shared_ptr<FeedNode> n = std::move(next);
    while (n && n.use_count() == 1) {
      std::shared_ptr<FeedNode> after = std::move(n->next);
      n = std::move(after);
    }
  }
};

struct Feed {
  Mutex mutex;
  std::shared_ptr<FeedNode> tail TVD_GUARDED_BY(mutex) =
      std::make_shared<FeedNode>();
};

namespace {

// A MembershipUpdate waits for its window to be merged with others, unless
// it carries a new epoch's key: a member that left or was evicted must
// stop being able to read the TVD's traffic as soon as the others have
// the key, not one window later. Anything else goes at once.
MemberSession::Urgency UrgencyOf(channel::MessageType type,
                                 const protocol::MembershipUpdate* update) {
  if (type != channel::MessageType::kMembershipUpdate) {
    return MemberSession::Urgency::kNow;
  }
  return update != nullptr && !update->key.empty()
             ? MemberSession::Urgency::kNow
             : MemberSession::Urgency::kMembership;
}

}  // namespace

StatusOr<MemberSessionPtr> MemberSession::Create(std::string tvd,
                                                 std::string host) {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return IoError(std::string("eventfd: ") + std::strerror(errno));
  return MemberSessionPtr(
      new MemberSession(std::move(tvd), std::move(host), fd));
}

MemberSession::~MemberSession() {
  MutexLock lock(mutex_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

int MemberSession::wake_fd() const {
  MutexLock lock(mutex_);
  return wake_fd_;
}

void MemberSession::WakeLocked() {
  if (wake_fd_ < 0) return;
  std::uint64_t one = 1;
  // Cannot block (EFD_NONBLOCK); a full counter is still a pending wakeup.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

std::function<void(MemberSession::Urgency)> MemberSession::RaiseLocked(
    Urgency u) {
  if (u <= told_) return nullptr;
  told_ = u;
  if (notify_) return notify_;
  WakeLocked();
  return nullptr;
}

void MemberSession::Push(
    channel::MessageType type, std::shared_ptr<const SecureBytes> frame,
    std::shared_ptr<const protocol::MembershipUpdate> update) {
  std::function<void(Urgency)> notify;
  const Urgency u = UrgencyOf(type, update.get());
  {
    MutexLock lock(mutex_);
    if (outbox_.end) return;
    outbox_.frames.emplace_back(type, std::move(frame));
    outbox_.updates.push_back(type == channel::MessageType::kMembershipUpdate
                                  ? std::move(update)
                                  : nullptr);
    positions_.push_back(FeedTailLocked());
    notify = RaiseLocked(u);
  }
  // What was told since the last Take() covers this push already: one
  // wakeup per batch, not per message.
  if (notify) notify(u);
}

void MemberSession::Poke(Urgency u) {
  std::function<void(Urgency)> notify;
  {
    MutexLock lock(mutex_);
    if (outbox_.end) return;
    notify = RaiseLocked(u);
  }
  if (notify) notify(u);
}

std::shared_ptr<FeedNode> MemberSession::FeedTailLocked() {
  if (!feed_) return nullptr;
  MutexLock f(feed_->mutex);
  return feed_->tail;
}

MemberSession::Urgency MemberSession::SetNotifier(
    std::function<void(Urgency)> notify) {
  MutexLock lock(mutex_);
  notify_ = std::move(notify);
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
  return told_;
}

void MemberSession::ClearNotifier() {
  std::function<void(Urgency)> gone;
  {
    MutexLock lock(mutex_);
    gone.swap(notify_);
  }
  // Destroyed outside the lock (it may own what the server shares).
}

std::shared_ptr<const SecureBytes> FrameOnce::Frame(
    channel::MessageType type,
    const std::shared_ptr<const SecureBytes>& payload) {
  std::shared_ptr<const SecureBytes>& slot = frames_[{type, payload.get()}];
  if (!slot) {
    std::vector<std::uint8_t> encoded =
        channel::EncodeFrame(type, payload->view());
    slot = std::make_shared<const SecureBytes>(
        std::span<const std::uint8_t>(encoded));
    OPENSSL_cleanse(encoded.data(), encoded.size());
  }
  return slot;
}

std::shared_ptr<const protocol::MembershipUpdate> FrameOnce::Decoded(
    const std::shared_ptr<const SecureBytes>& payload) {
  auto [it, fresh] = decoded_.try_emplace(payload.get());
  if (fresh) {
    auto m = protocol::DecodeMembershipUpdate(payload->view());
    if (m.ok()) {
      it->second =
          std::make_shared<const protocol::MembershipUpdate>(std::move(*m));
    }
  }
  return it->second;
}

void MemberSession::End() {
  std::function<void(Urgency)> notify;
  {
    MutexLock lock(mutex_);
    if (!outbox_.end) end_at_ = FeedTailLocked();
    outbox_.end = true;
    // An end is always news, even after a wakeup for updates only.
    notify = RaiseLocked(Urgency::kNow);
    if (!notify && !notify_) WakeLocked();
  }
  if (notify) notify(Urgency::kNow);
}

void MemberSession::ReadFeedLocked(const FeedNode* stop, Batch& out) {
  while (cursor_->next && cursor_.get() != stop) {
    const FeedNode& n = *cursor_;
    if (n.seq >= min_seq_ && n.except != host_) {
      out.frames.emplace_back(n.type, n.frame);
      out.updates.push_back(n.update);
    }
    cursor_ = n.next;  // copied before `n` may go
  }
}

MemberSession::Batch MemberSession::Take() {
  MutexLock lock(mutex_);
  if (wake_fd_ >= 0) {
    std::uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof(count));
  }
  Batch out;
  out.end = outbox_.end;
  if (!feed_) {
    out.frames.swap(outbox_.frames);
    out.updates.swap(outbox_.updates);
  } else {
    // The feed's broadcasts, each before the first of this session's own
    // messages pushed after it was published.
    MutexLock f(feed_->mutex);
    for (std::size_t i = 0; i < outbox_.frames.size(); ++i) {
      // A message pushed before the session had its feed precedes it all.
      if (positions_[i]) ReadFeedLocked(positions_[i].get(), out);
      out.frames.push_back(std::move(outbox_.frames[i]));
      out.updates.push_back(std::move(outbox_.updates[i]));
    }
    if (!outbox_.end) {
      ReadFeedLocked(nullptr, out);
    } else if (end_at_) {
      ReadFeedLocked(end_at_.get(), out);
    }
    outbox_.frames.clear();
    outbox_.updates.clear();
  }
  positions_.clear();
  // A push from here on is news again (an ended session stays ended).
  told_ = outbox_.end ? Urgency::kNow : Urgency::kNone;
  return out;
}

std::vector<protocol::MembershipUpdate> MergeMembershipUpdates(
    const std::vector<const protocol::MembershipUpdate*>& updates) {
  std::vector<protocol::MembershipUpdate> out;
  bool open = false;  // out.back() may take more
  for (const protocol::MembershipUpdate* u : updates) {
    if (!open || out.back().changes.size() + u->changes.size() >
                     protocol::kMaxMemberChanges) {
      out.emplace_back();
      out.back().tvd = u->tvd;
    }
    protocol::MembershipUpdate& m = out.back();
    m.changes.insert(m.changes.end(), u->changes.begin(), u->changes.end());
    m.epoch = u->epoch;
    m.member_count = u->member_count;
    if (!u->key.empty()) m.key = u->key.Clone();
    open = true;
  }
  return out;
}

MemberHub::~MemberHub() = default;

MemberHub::FeedState& MemberHub::FeedOfLocked(const std::string& tvd) {
  auto it = feeds_.find(tvd);
  if (it == feeds_.end()) {
    it = feeds_.emplace(tvd, FeedState{std::make_shared<Feed>(), 1}).first;
  }
  return it->second;
}

MemberSessionPtr MemberHub::Attach(const MemberSessionPtr& session) {
  MemberSessionPtr old;
  std::shared_ptr<Feed> feed;
  std::shared_ptr<FeedNode> tail;
  std::uint64_t min_seq = 0;
  {
    MutexLock lock(mutex_);
    MemberSessionPtr& slot = sessions_[session->tvd()][session->host()];
    old = std::move(slot);
    if (!old) ++size_;
    slot = session;
    FeedState& fs = FeedOfLocked(session->tvd());
    feed = fs.feed;
    min_seq = fs.next_seq;
    MutexLock f(feed->mutex);
    tail = feed->tail;
  }
  // Outside the hub's lock (see the top of member_hub.h). A session
  // attached again (its join decided again after the first decision lost
  // its race) reads only the broadcasts reserved from now on: the grant
  // of the new decision holds what those before it changed, and a member
  // that applied them again would count a joined host twice or hear of a
  // removal of a host its grant never listed. It keeps its place in the
  // feed (what it pushed alone stays ordered against it) and skips by
  // sequence number.
  MutexLock lock(session->mutex_);
  if (!session->feed_) {
    session->feed_ = std::move(feed);
    session->cursor_ = std::move(tail);
  }
  session->min_seq_ = min_seq;
  return old;
}

std::uint64_t MemberHub::Reserve(const std::string& tvd) {
  MutexLock lock(mutex_);
  return FeedOfLocked(tvd).next_seq++;
}

void MemberHub::SetFeedNotifier(FeedNotifier notify) {
  FeedNotifier gone;
  MutexLock lock(mutex_);
  gone.swap(feed_notify_);
  feed_notify_ = std::move(notify);
}

void MemberHub::Publish(
    const std::string& tvd, std::uint64_t seq, channel::MessageType type,
    std::shared_ptr<const SecureBytes> frame,
    std::shared_ptr<const protocol::MembershipUpdate> update,
    const std::string& except) {
  std::shared_ptr<Feed> feed;
  FeedNotifier notify;
  const std::size_t members = update ? update->member_count : 0;
  const MemberSession::Urgency u = UrgencyOf(type, update.get());
  std::vector<MemberSessionPtr> each;  // without a notifier
  {
    MutexLock lock(mutex_);
    feed = FeedOfLocked(tvd).feed;
    notify = feed_notify_;
    if (!notify) {
      auto t = sessions_.find(tvd);
      if (t != sessions_.end()) {
        for (auto& [host, s] : t->second) each.push_back(s);
      }
    }
  }
  {
    MutexLock f(feed->mutex);
    FeedNode& n = *feed->tail;
    n.seq = seq;
    n.type = type;
    n.frame = std::move(frame);
    n.update = type == channel::MessageType::kMembershipUpdate
                   ? std::move(update)
                   : nullptr;
    n.except = except;
    n.next = std::make_shared<FeedNode>();
    feed->tail = n.next;
  }
  if (notify) {
    notify(tvd, u, members);
    return;
  }
  for (const MemberSessionPtr& s : each) s->Poke(u);
}

void MemberHub::Detach(const MemberSessionPtr& session) {
  MutexLock lock(mutex_);
  auto t = sessions_.find(session->tvd());
  if (t == sessions_.end()) return;
  auto it = t->second.find(session->host());
  if (it == t->second.end() || it->second != session) return;
  t->second.erase(it);
  --size_;
  if (t->second.empty()) sessions_.erase(t);
}

MemberSessionPtr MemberHub::Find(const std::string& tvd,
                                 const std::string& host) const {
  MutexLock lock(mutex_);
  auto t = sessions_.find(tvd);
  if (t == sessions_.end()) return nullptr;
  auto it = t->second.find(host);
  return it == t->second.end() ? nullptr : it->second;
}

MemberSessionPtr MemberHub::Remove(const std::string& tvd,
                                   const std::string& host) {
  MutexLock lock(mutex_);
  auto t = sessions_.find(tvd);
  if (t == sessions_.end()) return nullptr;
  auto it = t->second.find(host);
  if (it == t->second.end()) return nullptr;
  MemberSessionPtr s = std::move(it->second);
  t->second.erase(it);
  --size_;
  if (t->second.empty()) sessions_.erase(t);
  return s;
}

std::vector<MemberSessionPtr> MemberHub::FindAll(
    const std::vector<const std::string*>& tvds,
    const std::vector<const std::string*>& hosts,
    const std::vector<bool>& remove) {
  std::vector<MemberSessionPtr> out(hosts.size());
  MutexLock lock(mutex_);
  using Sessions = std::map<std::string, MemberSessionPtr>;
  Sessions* sessions = nullptr;  // of tvds[i - 1]
  Sessions::iterator cursor;     // no session before it is asked for
  const std::string* previous = nullptr;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (sessions == nullptr || *tvds[i] != *tvds[i - 1]) {
      auto t = sessions_.find(*tvds[i]);
      sessions = t == sessions_.end() ? nullptr : &t->second;
      if (sessions != nullptr) cursor = sessions->begin();
      previous = nullptr;
    }
    if (sessions == nullptr) continue;
    const std::string& host = *hosts[i];
    if (previous == nullptr || host <= *previous) {
      cursor = sessions->lower_bound(host);  // not in order: search
    } else {
      // In order: walk forward (a few steps per host when most members
      // have a session) instead of searching from the root.
      int steps = 0;
      while (cursor != sessions->end() && cursor->first < host && ++steps < 8)
        ++cursor;
      if (cursor != sessions->end() && cursor->first < host)
        cursor = sessions->lower_bound(host);
    }
    previous = &host;
    if (cursor == sessions->end() || cursor->first != host) continue;
    if (remove[i]) {
      out[i] = std::move(cursor->second);
      cursor = sessions->erase(cursor);
      --size_;
    } else {
      out[i] = cursor->second;
    }
  }
  // Emptied TVDs are dropped.
  for (auto t = sessions_.begin(); t != sessions_.end();) {
    t = t->second.empty() ? sessions_.erase(t) : std::next(t);
  }
  return out;
}

std::size_t MemberHub::size() const {
  MutexLock lock(mutex_);
  return size_;
}

bool MemberHub::Attested(const std::string& tvd,
                         const std::string& host) const {
  MemberSessionPtr s = Find(tvd, host);
  return s && s->attested;
}

void MemberHub::EndAll() {
  std::vector<MemberSessionPtr> all;
  {
    MutexLock lock(mutex_);
    for (auto& [tvd, hosts] : sessions_) {
      for (auto& [host, s] : hosts) all.push_back(s);
    }
    sessions_.clear();
    size_ = 0;
  }
  for (auto& s : all) s->End();
}

}  // namespace tvd::master

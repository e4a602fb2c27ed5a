#include "tvd/master/member_hub.h"

#include <openssl/crypto.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tvd/mutex.h"

namespace tvd::master {

StatusOr<MemberSessionPtr> MemberSession::Create(std::string tvd,
                                                 std::string host) {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return IoError(std::string("eventfd: ") + std::strerror(errno));
  return MemberSessionPtr(
      new MemberSession(std::move(tvd), std::move(host), fd));
}

MemberSession::~MemberSession() { ::close(wake_fd_); }

void MemberSession::Wake() {
  std::uint64_t one = 1;
  // Cannot block (EFD_NONBLOCK); a full counter is still a pending wakeup.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void MemberSession::Push(channel::MessageType type,
                         std::shared_ptr<const SecureBytes> frame) {
  bool was_empty = false;
  {
    MutexLock lock(mutex_);
    if (outbox_.end) return;
    was_empty = outbox_.frames.empty();
    outbox_.frames.emplace_back(type, std::move(frame));
  }
  // A non-empty outbox has its wakeup set already: Take() consumes the
  // wakeup before it empties the outbox, so a push after that finds it
  // empty and wakes again. One eventfd write per batch, not per message.
  if (was_empty) Wake();
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

void MemberSession::End() {
  {
    MutexLock lock(mutex_);
    outbox_.end = true;
  }
  Wake();
}

MemberSession::Batch MemberSession::Take() {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof(count));
  MutexLock lock(mutex_);
  Batch out;
  out.frames.swap(outbox_.frames);
  out.end = outbox_.end;
  return out;
}

MemberSessionPtr MemberHub::Attach(const MemberSessionPtr& session) {
  MutexLock lock(mutex_);
  MemberSessionPtr& slot = sessions_[{session->tvd(), session->host()}];
  MemberSessionPtr old = std::move(slot);
  slot = session;
  return old;
}

void MemberHub::Detach(const MemberSessionPtr& session) {
  MutexLock lock(mutex_);
  auto it = sessions_.find({session->tvd(), session->host()});
  if (it != sessions_.end() && it->second == session) sessions_.erase(it);
}

MemberSessionPtr MemberHub::Find(const std::string& tvd,
                                 const std::string& host) const {
  MutexLock lock(mutex_);
  auto it = sessions_.find({tvd, host});
  return it == sessions_.end() ? nullptr : it->second;
}

MemberSessionPtr MemberHub::Remove(const std::string& tvd,
                                   const std::string& host) {
  MutexLock lock(mutex_);
  auto it = sessions_.find({tvd, host});
  if (it == sessions_.end()) return nullptr;
  MemberSessionPtr s = std::move(it->second);
  sessions_.erase(it);
  return s;
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
    for (auto& [key, s] : sessions_) all.push_back(s);
    sessions_.clear();
  }
  for (auto& s : all) s->End();
}

}  // namespace tvd::master

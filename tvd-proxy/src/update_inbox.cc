#include "tvd/proxy/update_inbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "tvd/mutex.h"

namespace tvd::proxy {

MasterUpdateInbox::MasterUpdateInbox()
    : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) std::abort();
}

MasterUpdateInbox::~MasterUpdateInbox() { ::close(fd_); }

void MasterUpdateInbox::Push(const MasterUpdate& update) {
  MasterUpdate copy = update.Clone();
  {
    MutexLock lock(mu_);
    queue_.push_back(std::move(copy));
  }
  const std::uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

std::vector<MasterUpdate> MasterUpdateInbox::Drain() {
  std::uint64_t count = 0;
  (void)!::read(fd_, &count, sizeof count);
  std::vector<MasterUpdate> out;
  MutexLock lock(mu_);
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return out;
}

}  // namespace tvd::proxy

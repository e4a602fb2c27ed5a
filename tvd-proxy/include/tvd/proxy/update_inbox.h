// Where the master link's thread leaves updates for the proxy's loop.
//
// TvdProxy runs on one thread (the daemon's loop) and does libvirt, OVS and
// master I/O; the link's thread must never wait for it (a Join that stops
// and joins the link's thread while the thread waited for the proxy would
// deadlock). So the link only pushes here, which never blocks on the proxy,
// and the loop drains the inbox when its eventfd is readable.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "tvd/mutex.h"
#include "tvd/proxy/master_link.h"

namespace tvd::proxy {

class MasterUpdateInbox {
 public:
  MasterUpdateInbox();  // aborts if no eventfd can be made (out of fds)
  ~MasterUpdateInbox();
  MasterUpdateInbox(const MasterUpdateInbox&) = delete;
  MasterUpdateInbox& operator=(const MasterUpdateInbox&) = delete;

  // From any thread: queues a copy (the key cloned) and makes fd() readable.
  void Push(const MasterUpdate& update);
  // Readable while updates are queued (poll it with POLLIN).
  int fd() const { return fd_; }
  // The queued updates, oldest first; fd() is no longer readable after.
  std::vector<MasterUpdate> Drain();

 private:
  int fd_ = -1;
  Mutex mu_;
  std::deque<MasterUpdate> queue_ TVD_GUARDED_BY(mu_);
};

}  // namespace tvd::proxy

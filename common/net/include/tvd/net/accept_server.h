// Accept-and-serve: takes connections from a Listener and runs one handler
// call per connection, each on its own thread, so one slow, silent or
// hostile peer never delays another. The channel server, the libvirt relay
// and the overview's HTTP server are this plus their protocol.
//
// Threads. One accept thread, started by Start(), and one worker thread per
// accepted connection, which calls the handler once and ends. The accept
// thread blocks in poll() on the listening socket and an eventfd, nothing
// else: a finished worker and Stop() both write the eventfd, so finished
// workers are joined (reaped) right away and Stop() is seen at once; there
// is no polling interval. The one timed wait: when accept() fails for lack
// of descriptors or memory, accepting pauses for 100 ms or until a
// connection ends (the pending connection would otherwise spin the thread).
//
// Connection sockets. The handler gets the accepted socket (blocking,
// close-on-exec). The server owns it: the handler must not close it (it may
// shutdown() it, or hand a dup() to something that takes ownership); the
// server closes it when the handler returns.
//
// Limit. With max_connections > 0, a connection accepted while that many
// handlers are running is refused: `on_refused` runs on the accept thread
// with its socket (to tell the peer why; it should be quick, the next
// accept waits for it), then the server closes the socket. A handler that
// has returned no longer counts. Limits per peer (per tenant, per host) are
// the handler's business: it knows who the peer is.
//
// Stop. Stop() closes the listening socket (new connects are refused),
// ends the accept thread, shuts down (SHUT_RDWR) every connection socket
// whose handler is still running, so a handler blocked in poll/recv/send
// wakes and sees the end of its connection, and joins every worker. When
// Stop() returns no handler is running or will run, and every connection
// socket is closed. Stop() is idempotent and may be called from any thread
// except a handler of this server (it would wait for itself); concurrent
// callers all return only once the server has stopped. A handler that
// ignores the end of its socket (e.g. blocked on something else) delays
// Stop() until it returns: give handlers deadlines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "tvd/mutex.h"
#include "tvd/net/listener.h"
#include "tvd/status.h"

namespace tvd::net {

// Serves one connection; runs on that connection's own thread. Must not
// throw (an escaping exception ends the process).
using ConnectionHandler = std::function<void(int fd)>;
// Told about a connection refused for the connection limit; runs on the
// accept thread, before the server closes `fd`.
using RefusalHandler = std::function<void(int fd)>;

struct AcceptServerOptions {
  // Names the server in log lines ("channel server", "relay").
  std::string name = "server";
  // Handlers running at once; 0: no limit.
  std::size_t max_connections = 0;
  RefusalHandler on_refused;  // may be empty: the socket is just closed
};

class AcceptServer {
 public:
  // Starts the accept thread on `listener`. InvalidArgument "NAME: no
  // connection handler" for an empty handler; IoError when the eventfd
  // cannot be created ("eventfd: ..."). Nothing runs after an error.
  static StatusOr<std::unique_ptr<AcceptServer>> Start(
      Listener listener, AcceptServerOptions options,
      ConnectionHandler handler);
  ~AcceptServer();  // Stop()
  AcceptServer(const AcceptServer&) = delete;
  AcceptServer& operator=(const AcceptServer&) = delete;

  // The listener's TCP port (still reported after Stop()).
  std::uint16_t port() const { return port_; }
  // Connections accepted whose handler has not returned yet.
  std::size_t active_connections() const TVD_EXCLUDES(mu_);
  // Worker threads not joined yet: the running ones and those that just
  // ended (the accept thread joins those as soon as they do). Stays bounded
  // however many connections came and went.
  std::size_t unjoined_workers() const TVD_EXCLUDES(mu_);

  void Stop() TVD_EXCLUDES(stop_mu_, mu_);

 private:
  // One accepted connection. `fd` and `done` are read and written under
  // mu_ (a field of a nested struct cannot name the outer mutex for the
  // analysis); `thread` only by the accept thread and Stop().
  struct Worker {
    std::thread thread;
    int fd = -1;  // -1 once the handler returned and the server closed it
    bool done = false;
  };

  AcceptServer(Listener listener, AcceptServerOptions options,
               ConnectionHandler handler, int wake_fd);
  void AcceptLoop() TVD_EXCLUDES(mu_);
  // Starts a worker for `fd`, or refuses it for the limit.
  void Admit(int fd) TVD_EXCLUDES(mu_);
  void Serve(Worker* worker) TVD_EXCLUDES(mu_);
  void ReapFinished() TVD_EXCLUDES(mu_);
  void Wake();

  Listener listener_;
  const std::uint16_t port_;
  const AcceptServerOptions options_;
  const ConnectionHandler handler_;
  const int wake_fd_;  // eventfd: Stop() and finished workers
  std::thread acceptor_;

  // Held for the whole of Stop(), so that a second caller returns only
  // once the first one has finished.
  Mutex stop_mu_;  // taken before mu_, never after
  bool stopped_ TVD_GUARDED_BY(stop_mu_) = false;

  mutable Mutex mu_;
  bool stopping_ TVD_GUARDED_BY(mu_) = false;
  std::size_t active_ TVD_GUARDED_BY(mu_) = 0;
  std::list<Worker> workers_ TVD_GUARDED_BY(mu_);
};

using AcceptServerPtr = std::unique_ptr<AcceptServer>;

}  // namespace tvd::net

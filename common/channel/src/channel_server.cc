#include "tvd/channel/channel_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "tvd/channel/channel_client.h"
#include "tvd/log.h"

namespace tvd::channel {

StatusOr<std::unique_ptr<ChannelServer>> ChannelServer::Start(
    const ServerOptions& options, std::shared_ptr<const TlsContext> tls,
    ConnectionHandler handler, ConnectionObserver observer) {
  if (!tls || tls->side() != TlsSide::kServer) {
    return InvalidArgument("ChannelServer needs a server TLS context");
  }
  IgnoreSigpipeOnce();
  std::unique_ptr<ChannelServer> s(new ChannelServer);
  s->options_ = options;
  s->tls_ = std::move(tls);
  s->handler_ = std::move(handler);
  s->observer_ = std::move(observer);
  TVD_ASSIGN_OR_RETURN(net::Listener listener,
                       net::Listener::Tcp(options.bind_address, options.port,
                                          options.listen_backlog));
  net::AcceptServerOptions serve;
  serve.name = "channel server";
  serve.max_connections = options.max_connections;
  serve.on_refused = [raw = s.get()](int fd) { raw->Refuse(fd); };
  TVD_ASSIGN_OR_RETURN(
      s->server_,
      net::AcceptServer::Start(std::move(listener), std::move(serve),
                               [raw = s.get()](int fd) { raw->Serve(fd); }));
  return s;
}

ChannelServer::~ChannelServer() { Stop(); }

void ChannelServer::Stop() {
  if (server_ != nullptr) server_->Stop();
}

void ChannelServer::Refuse(int fd) {
  if (!observer_) return;
  observer_({PeerAddressOf(fd), std::nullopt,
             Unavailable("too many connections (limit " +
                         std::to_string(options_.max_connections) + ")")});
}

void ChannelServer::Serve(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ConnectionReport report;
  report.peer_address = PeerAddressOf(fd);
  // The Connection takes over a duplicate; the server keeps (and closes)
  // `fd`, and its shutdown() on Stop reaches the same socket.
  std::size_t busy = ++handshakes_;
  StatusOr<std::unique_ptr<Connection>> conn = [&] {
    if (options_.max_handshakes != 0 && busy > options_.max_handshakes) {
      return StatusOr<std::unique_ptr<Connection>>(
          Unavailable("busy: " + std::to_string(busy - 1) +
                      " TLS handshakes in progress (limit " +
                      std::to_string(options_.max_handshakes) + ")"));
    }
    int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
      return StatusOr<std::unique_ptr<Connection>>(
          ErrnoError("cannot duplicate the connection", errno));
    }
    return Connection::Handshake(own, tls_->get(), /*is_server=*/true,
                                 options_.handshake_timeout,
                                 options_.max_payload);
  }();
  --handshakes_;
  if (!conn.ok()) {
    report.status = conn.status();
  } else {
    report.peer = (*conn)->peer();
    report.status = handler_ ? handler_(**conn) : Status::Ok();
    if (!report.status.ok()) (*conn)->SendErrorAndClose(report.status);
    (*conn)->Close();
  }
  if (report.status.ok() && conn.ok() && (*conn)->taken_over()) {
    // Served on elsewhere; whoever took it reports its end.
  } else if (report.status.ok()) {
    log::Info("channel ", report.peer_address, " (",
              report.peer ? report.peer->ToString() : "?", ") done");
  } else {
    log::Warning("channel ", report.peer_address, " (",
                 report.peer ? report.peer->ToString() : "unauthenticated",
                 ") refused: ", report.status.ToString());
  }
  if (observer_) observer_(report);
}

}  // namespace tvd::channel

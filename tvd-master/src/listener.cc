#include "tvd/master/listener.h"

#include "tvd/channel/channel_client.h"
#include "tvd/log.h"

namespace tvd::master {
namespace {

class TlsListener final : public Listener {
 public:
  explicit TlsListener(channel::ChannelServerPtr server)
      : server_(std::move(server)) {}
  std::uint16_t port() const override { return server_->port(); }
  void Stop() override { server_->Stop(); }

 private:
  channel::ChannelServerPtr server_;
};

}  // namespace

ListenerFactory TlsListenerFactory(channel::ServerOptions options,
                                   channel::TlsCredentials credentials) {
  // Credentials hold a private key (move only): shared by the copies.
  auto shared =
      std::make_shared<const channel::TlsCredentials>(std::move(credentials));
  return [options = std::move(options),
          shared](channel::ConnectionHandler handler) -> StatusOr<ListenerPtr> {
    channel::IgnoreSigpipeOnce();
    TVD_ASSIGN_OR_RETURN(auto tls, channel::TlsContext::Create(
                                       channel::TlsSide::kServer, *shared));
    TVD_ASSIGN_OR_RETURN(
        auto server,
        channel::ChannelServer::Start(
            options, std::shared_ptr<const channel::TlsContext>(std::move(tls)),
            std::move(handler), [](const channel::ConnectionReport& r) {
              if (!r.status.ok()) {
                log::Info("connection from ", r.peer_address,
                          r.peer ? " (" + r.peer->ToString() + ")" : "",
                          " ended: ", r.status.ToString());
              }
            }));
    return ListenerPtr(new TlsListener(std::move(server)));
  };
}

}  // namespace tvd::master

// The seam between the master and its network: something that accepts
// authenticated channels and runs a handler per connection. The daemon uses
// the TLS ChannelServer; unit tests use a listener that accepts nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "tvd/channel/channel_server.h"
#include "tvd/channel/tls_context.h"
#include "tvd/status.h"

namespace tvd::master {

class Listener {
 public:
  virtual ~Listener() = default;
  virtual std::uint16_t port() const = 0;
  // Stops accepting and closes every open connection (their handlers see
  // the channel close), then returns. Idempotent.
  virtual void Stop() = 0;
};
using ListenerPtr = std::unique_ptr<Listener>;

// Starts listening and hands every authenticated connection to `handler`
// on its own thread.
using ListenerFactory =
    std::function<StatusOr<ListenerPtr>(channel::ConnectionHandler handler)>;

// The TLS 1.3 ChannelServer with `credentials` on `options` (its errors:
// IoError when the address cannot be bound, the TLS context's errors).
// Connections that end with an error are logged.
ListenerFactory TlsListenerFactory(channel::ServerOptions options,
                                   channel::TlsCredentials credentials);

}  // namespace tvd::master

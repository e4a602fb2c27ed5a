#include "tvd/proxy/master_channel.h"

#include "tvd/daemon/endpoint.h"

namespace tvd::proxy {

MasterClientChannel::MasterClientChannel(std::string host_name,
                                         protocol::MasterEndpoint endpoint,
                                         const channel::TlsContext& tls,
                                         attest::Attester& attester,
                                         protocol::MasterClientOptions options)
    : name_(daemon::Endpoint{endpoint.address, endpoint.port}.ToString()),
      client_(std::move(host_name), std::move(endpoint), tls, attester,
              options) {}

}  // namespace tvd::proxy

// Admin side of the master protocol, for tvdctl and tests: one request on
// its own trusted-channel connection (admin certificate), answered with the
// master's JSON text.
#pragma once

#include <chrono>
#include <string>

#include "tvd/channel/tls_context.h"
#include "tvd/protocol/master_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

class AdminClient {
 public:
  // `tls`: kClient context with an admin certificate; must outlive this.
  AdminClient(MasterEndpoint endpoint, const channel::TlsContext& tls,
              std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : endpoint_(std::move(endpoint)), tls_(tls), timeout_(timeout) {}

  // Each returns the AdminReply JSON, or the master's refusal as its Status
  // with the message prefixed "peer: " (e.g. PermissionDenied "peer: admin
  // requests need an admin certificate; peer is host:node1", AlreadyExists
  // "peer: TVD green already exists", a policy parse error naming the line).
  StatusOr<std::string> AddTvd(const std::string& policy_xml) const;
  StatusOr<std::string> UpdateTvd(const std::string& policy_xml) const;
  StatusOr<std::string> RemoveTvd(const std::string& tvd) const;
  StatusOr<std::string> Query(const AdminQuery& query) const;

 private:
  StatusOr<std::string> Call(channel::MessageType type,
                             const std::vector<std::uint8_t>& payload) const;
  MasterEndpoint endpoint_;
  const channel::TlsContext& tls_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tvd::protocol

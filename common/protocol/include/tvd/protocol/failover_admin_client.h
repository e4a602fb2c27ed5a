// Admin requests to a list of master replicas (tvdctl, tvd-overview)
// (docs/host.md, "Fail-over across master replicas"): a request goes to the
// first master that accepts the connection.
//
// A master that cannot be connected to (TCP refused or timed out, a TLS
// handshake cut or timed out, a certificate that is not --master-name's)
// has seen nothing of the request, so the next master in the list is tried.
// Once the connection is up and the request may have been sent, whatever
// comes back is final, an error answer or a lost answer alike: the master
// may have applied it, and another master must not apply it again.
//
// When no master accepts the connection: with one master its error as it
// is (what tvdctl printed before lists existed); with several, the code
// they share (Unavailable when they differ) and "no master accepted the
// connection: ADDR:PORT: reason; ..." naming each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tvd/channel/frame.h"
#include "tvd/channel/tls_context.h"
#include "tvd/daemon/endpoint.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

// One try at one master.
struct MasterAttempt {
  // False: no connection (the request was never sent); true: the request
  // went out and `answer` is the master's (or the loss of it).
  bool connected = false;
  StatusOr<std::string> answer = Unavailable("not tried");
};
using TryMaster = std::function<MasterAttempt(const daemon::Endpoint&)>;

// Tries `masters` in order (see the file comment). `masters` is never empty
// (a ParseEndpointList result); an empty list is FailedPrecondition "no
// master configured".
StatusOr<std::string> AskFirstReachable(
    const std::vector<daemon::Endpoint>& masters, const TryMaster& attempt);

// The admin protocol (protocol/admin_client.h) over AskFirstReachable: one
// request per connection, the master's JSON text back, or its refusal as
// its Status ("peer: ..."). `tls`: kClient context with an admin
// certificate; must outlive this. Every replica must present the identity
// host:`master_name`.
class FailoverAdminClient {
 public:
  FailoverAdminClient(
      std::vector<daemon::Endpoint> masters, std::string master_name,
      const channel::TlsContext& tls,
      std::chrono::milliseconds timeout = std::chrono::seconds(15));

  StatusOr<std::string> AddTvd(const std::string& policy_xml) const;
  StatusOr<std::string> UpdateTvd(const std::string& policy_xml) const;
  StatusOr<std::string> RemoveTvd(const std::string& tvd) const;
  StatusOr<std::string> Query(const AdminQuery& query) const;

  // "tvd-master ADDR:PORT" or "tvd-master ADDR:PORT,ADDR:PORT".
  std::string Describe() const;

 private:
  StatusOr<std::string> Call(channel::MessageType type,
                             const std::vector<std::uint8_t>& payload) const;

  std::vector<daemon::Endpoint> masters_;
  std::string master_name_;
  const channel::TlsContext& tls_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tvd::protocol

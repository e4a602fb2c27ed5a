// Admin side of the master protocol on one held connection: the master
// answers any number of admin requests on one trusted-channel connection
// (AdminReply or kError each), so a caller that sends many (a benchmark, a
// script) pays for one TLS handshake instead of one per request.
//
// A request never retries on its own: a change whose connection broke may
// have been applied or not, so the caller decides. After any error the
// connection is dropped (the master closes it after a refusal, and after
// its read timeout when idle); the next request connects again.
//
// One caller at a time (not thread-safe).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/channel/connection.h"
#include "tvd/channel/tls_context.h"
#include "tvd/protocol/master_client.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

class AdminChannel {
 public:
  // `tls`: kClient context with an admin certificate; must outlive this.
  AdminChannel(MasterEndpoint endpoint, const channel::TlsContext& tls,
               std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : endpoint_(std::move(endpoint)), tls_(tls), timeout_(timeout) {}

  // Opens the connection now when none is open (so that its handshake is
  // not part of the next request). ConnectChannel's errors.
  Status Connect();
  // As AdminClient's: the AdminReply JSON, or the master's refusal with the
  // message prefixed "peer: "; connects first when no connection is open.
  StatusOr<std::string> AddTvd(const std::string& policy_xml);
  StatusOr<std::string> UpdateTvd(const std::string& policy_xml);
  StatusOr<std::string> RemoveTvd(const std::string& tvd);
  StatusOr<std::string> Query(const AdminQuery& query);
  void Close();

  // Connections opened so far (for tests and for a benchmark's report).
  int connects() const { return connects_; }

 private:
  StatusOr<std::string> Call(channel::MessageType type,
                             const std::vector<std::uint8_t>& payload);

  MasterEndpoint endpoint_;
  const channel::TlsContext& tls_;
  std::chrono::milliseconds timeout_;
  channel::ConnectionPtr conn_;
  int connects_ = 0;
};

}  // namespace tvd::protocol

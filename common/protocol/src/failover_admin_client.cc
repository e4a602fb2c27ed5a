#include "tvd/protocol/failover_admin_client.h"

#include "tvd/channel/channel_client.h"
#include "tvd/daemon/endpoint_list.h"
#include "tvd/pki/identity.h"

namespace tvd::protocol {

using channel::MessageType;

StatusOr<std::string> AskFirstReachable(
    const std::vector<daemon::Endpoint>& masters, const TryMaster& attempt) {
  if (masters.empty()) return FailedPrecondition("no master configured");
  std::vector<std::pair<std::string, Status>> failures;
  for (const daemon::Endpoint& m : masters) {
    MasterAttempt a = attempt(m);
    if (a.connected) return std::move(a.answer);
    failures.emplace_back(m.ToString(), a.answer.status());
  }
  if (failures.size() == 1) return failures[0].second;
  ErrorCode code = failures.front().second.code();
  std::string text;
  for (const auto& [name, status] : failures) {
    if (status.code() != code) code = ErrorCode::kUnavailable;
    if (!text.empty()) text += "; ";
    text += name + ": " + status.message();
  }
  return Status(code, "no master accepted the connection: " + text);
}

FailoverAdminClient::FailoverAdminClient(std::vector<daemon::Endpoint> masters,
                                         std::string master_name,
                                         const channel::TlsContext& tls,
                                         std::chrono::milliseconds timeout)
    : masters_(std::move(masters)),
      master_name_(std::move(master_name)),
      tls_(tls),
      timeout_(timeout) {}

StatusOr<std::string> FailoverAdminClient::Call(
    MessageType type, const std::vector<std::uint8_t>& payload) const {
  return AskFirstReachable(
      masters_, [&](const daemon::Endpoint& m) -> MasterAttempt {
        channel::ClientOptions options;
        options.connect_timeout = timeout_;
        options.expected_peer = pki::Identity{pki::Role::kHost, master_name_};
        StatusOr<channel::ConnectionPtr> conn =
            channel::ConnectChannel(m.address, m.port, tls_, options);
        if (!conn.ok()) return {false, conn.status()};
        // From here on the master may have the request: final.
        MasterAttempt a{true, Unavailable("no answer")};
        a.answer = [&]() -> StatusOr<std::string> {
          TVD_RETURN_IF_ERROR((*conn)->WriteFrame(type, payload, timeout_));
          TVD_ASSIGN_OR_RETURN(
              channel::Frame frame,
              (*conn)->ReadExpected(MessageType::kAdminReply, timeout_));
          (*conn)->Close();
          TVD_ASSIGN_OR_RETURN(AdminReply reply,
                               DecodeAdminReply(frame.payload));
          return std::move(reply.json);
        }();
        return a;
      });
}

StatusOr<std::string> FailoverAdminClient::AddTvd(
    const std::string& xml) const {
  return Call(MessageType::kTvdAdd, Encode(TvdAdd{xml}));
}
StatusOr<std::string> FailoverAdminClient::UpdateTvd(
    const std::string& xml) const {
  return Call(MessageType::kTvdUpdate, Encode(TvdUpdate{xml}));
}
StatusOr<std::string> FailoverAdminClient::RemoveTvd(
    const std::string& tvd) const {
  return Call(MessageType::kTvdRemove, Encode(TvdRemove{tvd}));
}
StatusOr<std::string> FailoverAdminClient::Query(
    const AdminQuery& query) const {
  return Call(MessageType::kAdminQuery, Encode(query));
}

std::string FailoverAdminClient::Describe() const {
  return "tvd-master " + daemon::EndpointListToString(masters_);
}

}  // namespace tvd::protocol

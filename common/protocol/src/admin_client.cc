#include "tvd/protocol/admin_client.h"

#include "tvd/channel/channel_client.h"

namespace tvd::protocol {

using channel::MessageType;

StatusOr<std::string> AdminClient::Call(
    MessageType type, const std::vector<std::uint8_t>& payload) const {
  channel::ClientOptions options;
  options.max_payload = kMaxAdminReplyPayload;
  options.connect_timeout = timeout_;
  options.expected_peer = endpoint_.identity;
  TVD_ASSIGN_OR_RETURN(channel::ConnectionPtr conn,
                       channel::ConnectChannel(endpoint_.address,
                                               endpoint_.port, tls_, options));
  TVD_RETURN_IF_ERROR(conn->WriteFrame(type, payload, timeout_));
  TVD_ASSIGN_OR_RETURN(channel::Frame frame,
                       conn->ReadExpected(MessageType::kAdminReply, timeout_));
  conn->Close();
  TVD_ASSIGN_OR_RETURN(AdminReply reply, DecodeAdminReply(frame.payload));
  return std::move(reply.json);
}

StatusOr<std::string> AdminClient::AddTvd(const std::string& xml) const {
  return Call(MessageType::kTvdAdd, Encode(TvdAdd{xml}));
}
StatusOr<std::string> AdminClient::UpdateTvd(const std::string& xml) const {
  return Call(MessageType::kTvdUpdate, Encode(TvdUpdate{xml}));
}
StatusOr<std::string> AdminClient::RemoveTvd(const std::string& tvd) const {
  return Call(MessageType::kTvdRemove, Encode(TvdRemove{tvd}));
}
StatusOr<std::string> AdminClient::Query(const AdminQuery& query) const {
  return Call(MessageType::kAdminQuery, Encode(query));
}

}  // namespace tvd::protocol

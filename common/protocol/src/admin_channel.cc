#include "tvd/protocol/admin_channel.h"

#include "tvd/channel/channel_client.h"

namespace tvd::protocol {

using channel::MessageType;

Status AdminChannel::Connect() {
  if (conn_ && !conn_->closed()) return Status::Ok();
  channel::ClientOptions options;
  options.max_payload = kMaxAdminReplyPayload;
  options.connect_timeout = timeout_;
  options.expected_peer = endpoint_.identity;
  TVD_ASSIGN_OR_RETURN(
      conn_, channel::ConnectChannel(endpoint_.address, endpoint_.port, tls_,
                                     options));
  ++connects_;
  return Status::Ok();
}

void AdminChannel::Close() {
  if (conn_) conn_->Close();
  conn_.reset();
}

StatusOr<std::string> AdminChannel::Call(
    MessageType type, const std::vector<std::uint8_t>& payload) {
  TVD_RETURN_IF_ERROR(Connect());
  auto reply = [&]() -> StatusOr<AdminReply> {
    TVD_RETURN_IF_ERROR(conn_->WriteFrame(type, payload, timeout_));
    TVD_ASSIGN_OR_RETURN(
        channel::Frame frame,
        conn_->ReadExpected(MessageType::kAdminReply, timeout_));
    return DecodeAdminReply(frame.payload);
  }();
  if (!reply.ok()) {
    Close();
    return reply.status();
  }
  return std::move(reply->json);
}

StatusOr<std::string> AdminChannel::AddTvd(const std::string& xml) {
  return Call(MessageType::kTvdAdd, Encode(TvdAdd{xml}));
}
StatusOr<std::string> AdminChannel::UpdateTvd(const std::string& xml) {
  return Call(MessageType::kTvdUpdate, Encode(TvdUpdate{xml}));
}
StatusOr<std::string> AdminChannel::RemoveTvd(const std::string& tvd) {
  return Call(MessageType::kTvdRemove, Encode(TvdRemove{tvd}));
}
StatusOr<std::string> AdminChannel::Query(const AdminQuery& query) {
  return Call(MessageType::kAdminQuery, Encode(query));
}

}  // namespace tvd::protocol

#include "tvd/rm/query_client.h"

#include "tvd/rm/rm_server.h"

namespace tvd::rm {

StatusOr<std::unique_ptr<RmQueryClient>> RmQueryClient::Connect(
    const std::string& endpoint, const std::string& server_public_z85,
    const CurveKeyPair& admin_keys) {
  std::unique_ptr<RmQueryClient> client(new RmQueryClient());
  try {
    TVD_RETURN_IF_ERROR(
        ConfigureCurveClient(client->socket_, admin_keys, server_public_z85));
    client->socket_.set(zmq::sockopt::linger, 0);
    client->socket_.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return InvalidArgument("rm query: connect '" + endpoint + "': " + e.what());
  }
  return client;
}

StatusOr<nlohmann::json> RmQueryClient::Query(
    const QueryRequest& request, std::chrono::milliseconds timeout) {
  const std::string bytes = EncodeQueryRequest(request);
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  try {
    // A DEALER queues the request until the CURVE handshake completes.
    if (!socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
      return Unavailable("rm query: send queue full");
    }
    if (zmq::poll(&item, 1, timeout) == 0) {
      return Timeout("rm query: no reply within " +
                     std::to_string(timeout.count()) +
                     " ms (server down or admin key not allow-listed)");
    }
    zmq::message_t reply;
    if (!socket_.recv(reply, zmq::recv_flags::dontwait)) {
      return Timeout("rm query: no reply");
    }
    nlohmann::json doc = nlohmann::json::parse(reply.to_string_view(), nullptr,
                                               /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("ok") ||
        !doc["ok"].is_boolean()) {
      return ProtocolError("rm query: malformed reply");
    }
    if (doc["ok"].get<bool>()) {
      if (!doc.contains("result")) return ProtocolError("rm query: no result");
      return doc["result"];
    }
    const nlohmann::json& err = doc["error"];
    if (!err.is_object() || !err.contains("code") || !err["code"].is_string() ||
        !err.contains("message") || !err["message"].is_string()) {
      return ProtocolError("rm query: malformed error reply");
    }
    return Status(ErrorCodeFromName(err["code"].get<std::string>()),
                  err["message"].get<std::string>());
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("rm query: ") + e.what());
  }
}

}  // namespace tvd::rm

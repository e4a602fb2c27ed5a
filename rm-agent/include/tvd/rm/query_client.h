// An admin's client for rm-server's query API (messages.h): one request,
// one reply, CURVE-authenticated with an admin key from the allow-list.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <zmq.hpp>

#include "tvd/rm/curve_keys.h"
#include "tvd/rm/messages.h"
#include "tvd/status.h"

namespace tvd::rm {

class RmQueryClient {
 public:
  // Errors: InvalidArgument for a bad server key or endpoint.
  static StatusOr<std::unique_ptr<RmQueryClient>> Connect(
      const std::string& endpoint, const std::string& server_public_z85,
      const CurveKeyPair& admin_keys);

  // Sends `request` and waits up to `timeout` for the reply. Returns the
  // "result" on success; the server's error as a Status with its code and
  // message otherwise (e.g. NotFound "no agent 'h1'"); Timeout when no reply
  // came (also what a refused admin key looks like: CURVE drops the
  // connection); Protocol for a reply that is not the documented shape.
  StatusOr<nlohmann::json> Query(const QueryRequest& request,
                                 std::chrono::milliseconds timeout);

 private:
  RmQueryClient() : context_(1), socket_(context_, zmq::socket_type::dealer) {}
  zmq::context_t context_;
  zmq::socket_t socket_;
};

}  // namespace tvd::rm

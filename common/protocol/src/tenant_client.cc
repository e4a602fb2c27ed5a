#include "tvd/protocol/tenant_client.h"

#include <algorithm>

#include "tvd/attest/deep_quote.h"
#include "tvd/channel/channel_client.h"

namespace tvd::protocol {

using channel::MessageType;

StatusOr<std::string> RequestVmAttestation(const MasterEndpoint& endpoint,
                                           const channel::TlsContext& tls,
                                           const VmAttestRequest& request,
                                           std::chrono::milliseconds timeout) {
  channel::ClientOptions options;
  // The evidence frame: the JSON and its length prefix.
  options.max_payload = attest::kMaxDeepQuoteEvidence + 16;
  options.connect_timeout = std::min(timeout, std::chrono::milliseconds(5000));
  options.expected_peer = endpoint.identity;
  TVD_ASSIGN_OR_RETURN(
      channel::ConnectionPtr conn,
      channel::ConnectChannel(endpoint.address, endpoint.port, tls, options));
  TVD_RETURN_IF_ERROR(conn->WriteFrame(MessageType::kVmAttestRequest,
                                       Encode(request), timeout));
  TVD_ASSIGN_OR_RETURN(
      channel::Frame frame,
      conn->ReadExpected(MessageType::kVmAttestEvidence, timeout));
  conn->Close();
  TVD_ASSIGN_OR_RETURN(VmAttestEvidence evidence,
                       DecodeVmAttestEvidence(frame.payload));
  return std::move(evidence.json);
}

StatusOr<std::string> RequestVmAttestationFromAny(
    const std::vector<MasterEndpoint>& masters, const channel::TlsContext& tls,
    const VmAttestRequest& request, std::chrono::milliseconds timeout) {
  if (masters.empty()) return InvalidArgument("no master to ask");
  Status last = Status::Ok();
  for (const MasterEndpoint& m : masters) {
    auto json = RequestVmAttestation(m, tls, request, timeout);
    if (json.ok() || json.status().code() != ErrorCode::kUnavailable) {
      return json;
    }
    last = json.status().WithContext("master " + m.address + ":" +
                                     std::to_string(m.port));
  }
  return last;
}

}  // namespace tvd::protocol

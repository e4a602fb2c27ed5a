// Drives the rm message decoders (agent messages and query requests) and the
// registry with arbitrary bytes: decoding never crashes or throws, whatever
// decodes re-encodes to the same value, and applying it never breaks the
// registry's queries.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tvd/rm/agent_registry.h"
#include "tvd/rm/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::rm;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tvd::StatusOr<AgentMessage> msg = DecodeAgentMessage(bytes);
  if (msg.ok()) {
    tvd::StatusOr<AgentMessage> again =
        DecodeAgentMessage(EncodeAgentMessage(*msg));
    if (!again.ok() || !(*again == *msg)) std::abort();
    AgentRegistry registry(LivenessPolicy{});
    const Clock::time_point t0{};
    (void)registry.Apply("fuzz-host", RegisterMsg{"fuzz-host", {}}, t0);
    (void)registry.Apply("fuzz-host", *msg, t0);
    (void)registry.Query(QueryRequest{QueryRequest::Kind::kSnapshot, "", ""},
                         t0);
    (void)EncodeQueryReply(registry.Query(
        QueryRequest{QueryRequest::Kind::kDomains, "fuzz-host", ""}, t0));
  }
  tvd::StatusOr<QueryRequest> query = DecodeQueryRequest(bytes);
  if (query.ok()) {
    tvd::StatusOr<QueryRequest> again =
        DecodeQueryRequest(EncodeQueryRequest(*query));
    if (!again.ok() || !(*again == *query)) std::abort();
  }
  return 0;
}

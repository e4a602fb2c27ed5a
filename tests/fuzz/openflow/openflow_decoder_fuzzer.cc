// Fuzzes the OpenFlow stream decoder and the body parsers of what the
// switch sends (ERROR, flow-stats MULTIPART_REPLY).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tvd/vswitch/openflow/openflow_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::vswitch::openflow;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  Decoder decoder(4096);
  std::vector<Message> out;
  (void)decoder.Feed(in.substr(0, split), &out);
  (void)decoder.Feed(in.substr(split), &out);
  for (const Message& m : out) {
    auto e = ParseError(m.body);
    if (e.ok()) (void)DescribeError(*e);
    (void)ParseFlowStatsReply(m.body);
  }
  // The bodies alone too, so the parsers see arbitrary lengths directly.
  (void)ParseFlowStatsReply(in);
  (void)ParseMac(in);
  (void)ParseIpv4(in);
  return 0;
}

// Fuzzes ParseEndpointList (daemon/endpoint_list.h). The first byte picks
// the rules. It must never crash; a list that parses is 1..16 entries, each
// valid under the rules, no two the same; it prints back to text that parses
// to the same list; and a text without a comma gives exactly ParseEndpoint's
// answer.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tvd/daemon/endpoint_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  const tvd::daemon::EndpointRules rules{.allow_port_zero = (data[0] & 1) != 0,
                                         .allow_host_name = (data[0] & 2) != 0};
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto list = tvd::daemon::ParseEndpointList(text, rules);
  if (text.find(',') == std::string::npos) {
    auto one = tvd::daemon::ParseEndpoint(text, rules);
    if (one.ok() != list.ok()) std::abort();
    if (!one.ok() && !(one.status() == list.status())) std::abort();
    if (one.ok() && (list->size() != 1 || !((*list)[0] == *one))) std::abort();
  }
  if (!list.ok()) return 0;
  if (list->empty() || list->size() > tvd::daemon::kMaxEndpointList) {
    std::abort();
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& e = (*list)[i];
    if (e.port == 0 && !rules.allow_port_zero) std::abort();
    for (std::size_t j = 0; j < i; ++j) {
      if (tvd::daemon::SameEndpoint((*list)[j], e)) std::abort();
    }
  }
  auto again = tvd::daemon::ParseEndpointList(
      tvd::daemon::EndpointListToString(*list), rules);
  if (!again.ok() || *again != *list) std::abort();
  return 0;
}

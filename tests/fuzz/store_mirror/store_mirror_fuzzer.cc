// Fuzzes what a replica takes from its store monitor (store_mirror.h): the
// input is a JSON array of <table-updates>, the first applied as a
// monitor's initial contents, the rest as updates. Every update must give
// a change or an error, never throw or crash; an update that fails changes
// nothing; every TVD a change names as present is one the mirror holds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tvd/master/store_mirror.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  nlohmann::json j =
      nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return 0;
  tvd::master::StoreMirror mirror;
  bool first = true;
  for (const nlohmann::json& update : j) {
    std::size_t tvds = mirror.tvd_count();
    std::size_t members = mirror.membership_count();
    auto change = mirror.Apply(update, first);
    first = false;
    if (!change.ok()) {
      if (mirror.tvd_count() != tvds || mirror.membership_count() != members) {
        __builtin_trap();  // a refused update changed the copy
      }
      continue;
    }
    for (const auto& [name, tvd] : change->tvds) {
      if (tvd.row && tvd.row->name != name) __builtin_trap();
      // Why a member went comes only with a TVD that is still there.
      if (!tvd.row && !tvd.departures.empty()) __builtin_trap();
    }
    for (const auto& [name, joins] : change->joins) {
      if (joins.hosts.empty()) __builtin_trap();
    }
  }
  return 0;
}

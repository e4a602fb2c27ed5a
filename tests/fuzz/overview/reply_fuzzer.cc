// Feeds arbitrary JSON to the decoders of the master's replies and of
// rm-server's snapshot, then merges and renders whatever decoded: bad
// replies must be errors, never crashes, and renderings of odd names must
// stay well-formed.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "tvd/overview/model.h"
#include "tvd/overview/render.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::overview;
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  // The same document as every kind of reply: {"tvds":..,"hosts":..} for
  // the master, an array for rm-server.
  auto master = DecodeMasterState(j, j);
  auto rm = DecodeRmSnapshot(j);
  Overview o = MergeOverview(
      master.ok() ? &*master : nullptr,
      {master.ok(), master.status().code(), master.status().message()},
      rm.ok() ? &*rm : nullptr,
      {rm.ok(), rm.status().code(), rm.status().message()}, 0);
  std::ostringstream text;
  RenderText(o, text);
  (void)RenderJson(o).dump();
  const std::string html = RenderHtml(o, 5);
  if (html.find("<script") != std::string::npos) __builtin_trap();
  return 0;
}

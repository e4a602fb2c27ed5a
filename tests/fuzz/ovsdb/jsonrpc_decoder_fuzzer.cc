// Fuzzes the OVSDB JSON-RPC stream decoder with arbitrary bytes split at an
// input-chosen point, plus the datum parsers on every decoded message.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tvd/vswitch/ovsdb/jsonrpc.h"
#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::vswitch;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  JsonRpcDecoder decoder(4096);
  std::vector<JsonRpcMessage> out;
  (void)decoder.Feed(in.substr(0, split), &out);
  (void)decoder.Feed(in.substr(split), &out);
  for (const JsonRpcMessage& m : out) {
    for (const Json* j : {&m.params, &m.result, &m.error}) {
      (void)ovsdb::ParseUuid(*j);
      (void)ovsdb::ParseSet(*j);
      (void)ovsdb::ParseStringMap(*j);
      (void)ovsdb::ParseOptionalInteger(*j);
      if (j->is_array()) {
        for (const Json& e : *j) {
          (void)ovsdb::ParseStringMap(e);
          (void)ovsdb::ParseOptionalInteger(e);
        }
      }
    }
  }
  return 0;
}

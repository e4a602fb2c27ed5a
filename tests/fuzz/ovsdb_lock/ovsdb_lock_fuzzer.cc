// Fuzzes what an OVSDB server (or anything posing as one) can send on the
// lock's connection: the bytes go through the JSON-RPC decoder, and every
// message through the lock's decoders (lock reply, "locked" / "stolen"
// notification, the _Server probe) and into a LockState. Nothing may throw
// or crash; a decoded notification names the lock it was checked against;
// a state never holds without a grant.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tvd/master/lock_state.h"
#include "tvd/vswitch/ovsdb/jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::master;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  tvd::vswitch::JsonRpcDecoder decoder(1 << 20);
  std::vector<tvd::vswitch::JsonRpcMessage> msgs;
  (void)decoder.Feed(in, &msgs);
  LockState state(
      {std::chrono::milliseconds(100), std::chrono::milliseconds(200)});
  LockClock::time_point t{};
  state.Connected(t);
  for (const auto& m : msgs) {
    t += std::chrono::milliseconds(50);
    if (auto locked = DecodeLockReply(m.result); locked.ok()) {
      (void)state.OnLockReply(*locked, t);
    }
    if (auto n = DecodeLockNotification(m.method, m.params, "duties"); n.ok()) {
      if (m.params[0].get<std::string>() != "duties") __builtin_trap();
      (void)state.OnNotice(*n, t);
    }
    if (auto s = DecodeServerStatus(m.result, "TVD_Master"); s.ok()) {
      state.OnProbe(*s, t);
      if (s->may_hold() && s->model != "standalone" &&
          !(s->connected && s->leader)) {
        __builtin_trap();
      }
    }
    if (state.Holding(t) && state.phase() != LockState::Phase::kGranted) {
      __builtin_trap();
    }
  }
  return 0;
}

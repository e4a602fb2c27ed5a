// The host control protocol: what tvdctl says to the proxy-factory and what
// the factory says to each tvd-proxy, over a local UNIX stream socket.
//
// Framing: a 4-byte big-endian length, then that many bytes of one JSON
// object. A frame longer than kMaxControlFrameBytes is refused before it is
// read. Requests:
//   {"op":"join",   "tvd":NAME}
//   {"op":"leave",  "tvd":NAME}
//   {"op":"attach", "tvd":NAME, "vm_config":ABSOLUTE_PATH}
//   {"op":"detach", "tvd":NAME, "vm":VM_NAME}
//   {"op":"status"} or {"op":"status", "tvd":NAME}
//   {"op":"usage",  "tvd":NAME, "held":AMOUNTS, "adds":AMOUNTS}
//       (relay -> the TVD's proxy, on the proxy's usage socket only: a claim
//       against the TVD's total quota, tvd/policy/quota.h; AMOUNTS is
//       {"domains":N, "vcpus":N, "memory_kib":N, "disk_bytes":N}, unsigned
//       64-bit integers, all four required)
// Responses:
//   {"ok":true, "result":{...}}
//   {"ok":false, "error":{"code":"permission-denied", "message":"..."}}
// The decoder is strict: unknown ops or keys, missing or wrongly typed
// fields, malformed names and relative paths are InvalidArgument errors that
// say which field and why.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/policy/quota.h"
#include "tvd/status.h"

namespace tvd::host {

inline constexpr std::size_t kMaxControlFrameBytes = 64 * 1024;
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMaxPathLength = 4096;

enum class ControlOp { kJoin, kLeave, kAttach, kDetach, kStatus, kUsage };

std::string_view ControlOpName(ControlOp op);

struct ControlRequest {
  ControlRequest() = default;
  ControlRequest(ControlOp op, std::string tvd, std::string vm_config = "",
                 std::string vm = "")
      : op(op),
        tvd(std::move(tvd)),
        vm_config(std::move(vm_config)),
        vm(std::move(vm)) {}
  ControlOp op = ControlOp::kStatus;
  std::string tvd;            // empty only for a host-wide status
  std::string vm_config;      // attach
  std::string vm;             // detach
  policy::QuotaAmounts held;  // usage
  policy::QuotaAmounts adds;  // usage
  friend bool operator==(const ControlRequest&,
                         const ControlRequest&) = default;
};

struct ControlResponse {
  Status status;          // OK, or the error to report
  nlohmann::json result;  // an object when status is OK
};

// TVD and VM names: 1..64 of [A-Za-z0-9_.-], not starting with '.' or '-'.
bool IsValidControlName(std::string_view name);

// JSON body of a request / response (no framing).
std::string EncodeRequest(const ControlRequest& request);
std::string EncodeResponse(const ControlResponse& response);
StatusOr<ControlRequest> DecodeRequest(std::string_view body);
StatusOr<ControlResponse> DecodeResponse(std::string_view body);

// 4-byte big-endian length + body. The body must not exceed the cap.
std::string Frame(std::string_view body);

}  // namespace tvd::host

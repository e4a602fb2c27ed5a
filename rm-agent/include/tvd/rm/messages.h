// The rm-agent -> rm-server wire format and the query API's requests and
// replies: one JSON object per ZeroMQ frame, versioned by "v".
//
// Agent messages ("type" selects the body; every field is required):
//   {"v":1,"type":"register","host":H,"properties":{K:V strings}}
//   {"v":1,"type":"status","status":{"cpus":N,"load1":F,"mem_total_kib":N,
//        "mem_free_kib":N,"free_vcpus":N,"free_mem_kib":N}}
//   {"v":1,"type":"domains","domains":[{"name":S,"uuid":S,"state":S,
//        "tvd":S,"networks":[S...]}]}       ("tvd" "" = not a TVD domain)
//   {"v":1,"type":"heartbeat"}
//   {"v":1,"type":"unregister"}
//
// The decoders are strict: at most kMaxMessageBytes, nested at most
// kMaxNesting deep, valid JSON, an object,
// v == 1, a known type, exactly the listed fields (no unknown ones) with the
// listed JSON types, integers non-negative, strings at most kMaxStringBytes,
// at most kMaxDomains domains and kMaxNetworksPerDomain networks each, at
// most kMaxProperties properties. Every failure is InvalidArgument with
// "rm message: <where>: <why>". They never throw.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tvd/status.h"

namespace tvd::rm {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxMessageBytes = 256 * 1024;
inline constexpr std::size_t kMaxStringBytes = 256;
inline constexpr std::size_t kMaxDomains = 512;
inline constexpr std::size_t kMaxNetworksPerDomain = 64;
inline constexpr std::size_t kMaxProperties = 64;
inline constexpr int kMaxNesting = 8;  // brackets/braces

struct NodeStatus {
  std::uint64_t cpus = 0;
  double load1 = 0;  // 1-minute load average
  std::uint64_t mem_total_kib = 0;
  std::uint64_t mem_free_kib = 0;  // MemAvailable
  // Free capacity: vCPUs not taken by running domains, memory available.
  std::uint64_t free_vcpus = 0;
  std::uint64_t free_mem_kib = 0;
  friend bool operator==(const NodeStatus&, const NodeStatus&) = default;
};

struct DomainInfo {
  std::string name;
  std::string uuid;
  std::string state;  // "running", "shutoff", "paused", ...
  std::string tvd;    // owner from the urn:tvd:vm:1 metadata; "" if none
  std::vector<std::string> networks;  // TVD networks of its vnets
  friend bool operator==(const DomainInfo&, const DomainInfo&) = default;
};

struct RegisterMsg {
  std::string host;
  std::map<std::string, std::string> properties;
  friend bool operator==(const RegisterMsg&, const RegisterMsg&) = default;
};
struct StatusMsg {
  NodeStatus status;
  friend bool operator==(const StatusMsg&, const StatusMsg&) = default;
};
struct DomainsMsg {
  std::vector<DomainInfo> domains;
  friend bool operator==(const DomainsMsg&, const DomainsMsg&) = default;
};
struct HeartbeatMsg {
  friend bool operator==(const HeartbeatMsg&, const HeartbeatMsg&) = default;
};
struct UnregisterMsg {
  friend bool operator==(const UnregisterMsg&, const UnregisterMsg&) = default;
};

using AgentMessage = std::variant<RegisterMsg, StatusMsg, DomainsMsg,
                                  HeartbeatMsg, UnregisterMsg>;

std::string EncodeAgentMessage(const AgentMessage& message);
StatusOr<AgentMessage> DecodeAgentMessage(std::string_view bytes);

// Server -> agent notice: the server does not know this agent (it restarted,
// or the agent expired); the agent answers by registering again.
//   {"v":1,"type":"reregister"}
std::string EncodeReregisterNotice();
bool IsReregisterNotice(std::string_view bytes);

// Query API (admin keys only):
//   {"v":1,"query":"agents"}
//   {"v":1,"query":"node","host":H}
//   {"v":1,"query":"domains","host":H}
//   {"v":1,"query":"networks","host":H,"domain":D}
//   {"v":1,"query":"snapshot"}   every agent with status and domains, for
//                                the admin overview
// Replies: {"v":1,"ok":true,"result":...} or
//          {"v":1,"ok":false,"error":{"code":C,"message":M}}.
struct QueryRequest {
  enum class Kind { kAgents, kNode, kDomains, kNetworks, kSnapshot };
  Kind kind = Kind::kAgents;
  std::string host;
  std::string domain;
  friend bool operator==(const QueryRequest&, const QueryRequest&) = default;
};

std::string EncodeQueryRequest(const QueryRequest& request);
StatusOr<QueryRequest> DecodeQueryRequest(std::string_view bytes);

}  // namespace tvd::rm

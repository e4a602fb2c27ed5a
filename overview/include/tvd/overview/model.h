// The admin's overview of the VDC: which TVDs exist, which hosts each spans,
// the VMs of each TVD per host, attestation state, and what every host has
// free. Built from two independent views:
//   - tvd-master's admin queries "tvds" and "hosts" (docs/master.md §3):
//     membership, attestation, the VMs the proxies reported;
//   - rm-server's "snapshot" query (docs/rm.md): hosts up/down, CPU, memory,
//     free capacity and the libvirt domains each host really runs.
// Either view may be missing (its daemon unreachable); the overview then
// shows what the other one knows and says which source failed.
//
// Decoding is strict: a reply that is not the documented shape is a
// ProtocolError naming the source and the JSON path ("master tvds reply:
// tvds[0].members[1].attested: expected a boolean"), never a crash and never
// a half-filled model.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::overview {

// ---- what the master says (admin queries "tvds" and "hosts") ----

struct MasterMember {
  std::string host;
  std::string underlay;
  bool attested = false;
  std::string attestation_reason;
  std::int64_t attested_at = 0;  // unix seconds; 0: never
  bool connected = false;        // a live member channel right now
};

struct MasterVm {
  std::string vm;
  std::string host;
};

struct MasterTvd {
  std::string name;
  std::int64_t id = 0;
  std::uint64_t epoch = 0;
  std::string digest;
  std::vector<std::string> networks;
  std::vector<MasterMember> members;
  std::vector<MasterVm> vms;
};

struct MasterHost {
  std::string name;
  std::string underlay;
  bool attested = false;
  std::string attestation_reason;
  std::int64_t attested_at = 0;
  std::vector<std::string> tvds;
};

struct MasterState {
  std::vector<MasterTvd> tvds;
  std::vector<MasterHost> hosts;
};

// `tvds_reply` / `hosts_reply`: the master's AdminReply JSON for the
// queries "tvds" and "hosts". Errors: ProtocolError "master tvds reply:
// PATH: why" / "master hosts reply: PATH: why".
StatusOr<MasterState> DecodeMasterState(const nlohmann::json& tvds_reply,
                                        const nlohmann::json& hosts_reply);

// ---- what rm-server says (query "snapshot") ----

struct NodeResources {
  std::int64_t cpus = 0;
  double load1 = 0;
  std::uint64_t mem_total_kib = 0;
  std::uint64_t mem_free_kib = 0;
  std::int64_t free_vcpus = 0;
  std::uint64_t free_mem_kib = 0;
};

struct RmDomain {
  std::string name;
  std::string uuid;
  std::string state;
  std::string tvd;  // "" when the domain belongs to no TVD
  std::vector<std::string> networks;
};

struct RmHost {
  std::string host;
  bool up = false;
  std::map<std::string, std::string> properties;
  std::optional<NodeResources> resources;  // none until the agent reported
  std::vector<RmDomain> domains;
};

struct RmState {
  std::vector<RmHost> hosts;
};

// `snapshot`: the "result" of rm-server's snapshot query. Errors:
// ProtocolError "rm-server snapshot: PATH: why".
StatusOr<RmState> DecodeRmSnapshot(const nlohmann::json& snapshot);

// ---- the merged overview ----

// Where each side stands when the overview was made.
struct SourceState {
  bool ok = false;
  ErrorCode code = ErrorCode::kOk;  // why not, when !ok
  std::string error;                // "tvd-master 127.0.0.1:7400: ..."
};

// A VM of a TVD on one host, as either side knows it.
struct VmPlacement {
  std::string name;
  std::string state;          // libvirt state from the host; "" if not seen
  bool reported = false;      // the host's proxy reported it to the master
  bool seen_on_host = false;  // the host's rm-agent lists it
};

// One host's part in one TVD.
struct TvdOnHost {
  std::string host;
  bool member = false;  // the master lists the host as a member
  bool attested = false;
  std::string attestation_reason;
  bool connected = false;
  std::vector<VmPlacement> vms;  // sorted by name
};

struct TvdView {
  std::string name;
  bool known_to_master = false;  // false: only seen in domains' metadata
  std::int64_t id = 0;
  std::uint64_t epoch = 0;
  std::vector<std::string> networks;
  std::vector<TvdOnHost> hosts;  // sorted by host name
};

struct DomainView {
  std::string name;
  std::string state;
  std::string tvd;
};

struct HostView {
  std::string name;
  bool known_to_master = false;
  bool known_to_rm = false;
  bool up = false;  // rm-server has heard from its agent recently
  bool attested = false;
  std::string attestation_reason;
  std::int64_t attested_at = 0;
  std::string underlay;
  std::optional<NodeResources> resources;
  std::vector<std::string> tvds;    // sorted
  std::vector<DomainView> domains;  // everything libvirt runs, sorted
};

struct Overview {
  std::int64_t generated_at = 0;  // unix seconds
  SourceState master;
  SourceState rm;
  std::vector<TvdView> tvds;    // sorted by name
  std::vector<HostView> hosts;  // sorted by name
};

// Joins both views. A null state means that source failed; its SourceState
// says why. Never fails: inconsistencies between the sources are shown, not
// hidden (a VM the master knows but the host does not run has
// seen_on_host=false; a domain naming a TVD the master does not know yields
// a TvdView with known_to_master=false).
Overview MergeOverview(const MasterState* master, SourceState master_source,
                       const RmState* rm, SourceState rm_source,
                       std::int64_t generated_at);

// Sums for the summary line.
struct Totals {
  std::size_t tvds = 0;
  std::size_t hosts = 0;
  std::size_t hosts_up = 0;
  std::size_t vms = 0;  // TVD VMs (distinct TVD/host/name)
  std::int64_t free_vcpus = 0;
  std::uint64_t free_mem_kib = 0;
};
Totals ComputeTotals(const Overview& overview);

}  // namespace tvd::overview

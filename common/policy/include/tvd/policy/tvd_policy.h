// The TVD policy model: what one Trusted Virtual Domain allows.
//
// These are plain values produced by the parsers (tvd_policy_parser.h,
// host_requirements_parser.h, vm_config_parser.h). A value that came out of
// a parser has passed every check documented in docs/policy.md; code that
// builds one by hand should run it through the canonical form
// (canonical.h) if it needs the digest. Lists keep document order; the
// canonical form sorts them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tvd/policy/quota.h"
#include "tvd/sha256.h"

namespace tvd::policy {

inline constexpr char kPolicyNamespace[] = "urn:tvd:policy:1";
inline constexpr char kVmNamespace[] = "urn:tvd:vm:1";

inline constexpr std::uint32_t kMinTvdId = 1;
inline constexpr std::uint32_t kMaxTvdId = 16383;
inline constexpr std::uint32_t kMinVni = 1;
inline constexpr std::uint32_t kMaxVni = 16777215;
inline constexpr std::uint32_t kMaxAttestationIntervalSeconds = 86400;
inline constexpr int kMaxPcrIndex = 23;

enum class NetworkKind { kData, kManagement };

struct Network {
  std::string name;  // IsTvdName
  NetworkKind kind = NetworkKind::kData;
  std::uint32_t vni = 0;  // global VXLAN network identifier, 1..16777215
  std::optional<std::string> subnet;  // normalized CIDR
  friend bool operator==(const Network&, const Network&) = default;
};

// How the TVD's traffic between hosts is protected (strongSwan proposals).
struct TransportProtection {
  std::string ike_proposal;
  std::string esp_proposal;
  friend bool operator==(const TransportProtection&,
                         const TransportProtection&) = default;
};

// One PCR and the values it may hold on a good host (any of them).
struct PcrRequirement {
  std::string bank = "sha256";
  int index = 0;                         // 0..23
  std::vector<Sha256Digest> known_good;  // at least one, no duplicates
  friend bool operator==(const PcrRequirement&,
                         const PcrRequirement&) = default;
};

// Reference to an IMA allowlist file, pinned by its digest.
struct ImaAllowlistRef {
  std::string path;  // IsAbsolutePath
  Sha256Digest sha256{};
  friend bool operator==(const ImaAllowlistRef&,
                         const ImaAllowlistRef&) = default;
};

// PCRs 0-7 judged by the host's UEFI event log instead of pinned values
// (<measured-boot>, docs/policy.md; the check is tvd/attest/measured_boot.h):
// allowed firmware, shim, boot loader and kernel digests, the Secure Boot
// state and the SHA-256 of the PK, KEK, db and dbx values, and other
// events listed by (PCR, type, digest). Lists hold no duplicates.
struct MeasuredBootRequirement {
  bool require_secure_boot = false;
  std::vector<Sha256Digest> firmware;
  std::vector<Sha256Digest> shim;
  std::vector<Sha256Digest> bootloader;
  std::vector<Sha256Digest> kernel;
  std::vector<Sha256Digest> pk;
  std::vector<Sha256Digest> kek;
  std::vector<Sha256Digest> db;
  std::vector<Sha256Digest> dbx;
  struct Event {
    int pcr = 0;             // 0..7
    std::uint32_t type = 0;  // TCG event type (EventTypeFromName)
    Sha256Digest sha256{};
    friend bool operator==(const Event&, const Event&) = default;
  };
  std::vector<Event> events;
  friend bool operator==(const MeasuredBootRequirement&,
                         const MeasuredBootRequirement&) = default;
};

// The known-good TCB of a host allowed into the TVD.
struct HostRequirements {
  // Whether a host without a TPM may join. Always stated explicitly.
  bool allow_no_tpm = false;
  std::uint32_t attestation_interval_seconds = 0;  // 1..86400
  std::vector<PcrRequirement> pcrs;                // unique indices
  std::optional<ImaAllowlistRef> ima_allowlist;
  std::optional<MeasuredBootRequirement> measured_boot;
  friend bool operator==(const HostRequirements&,
                         const HostRequirements&) = default;
};

enum class MeasureType { kConfig, kKernel, kInitrd, kDisk };

// One measured part of a VM. `target` is set for disks only. `sha256` is
// absent only in VM templates.
struct Measurement {
  MeasureType type = MeasureType::kConfig;
  std::string target;
  std::optional<Sha256Digest> sha256;
  friend bool operator==(const Measurement&, const Measurement&) = default;
};

// Known-good measurements of one VM of the TVD.
struct VmKnownGood {
  std::string vm;                     // IsVmName
  std::vector<Measurement> measures;  // all with sha256, unique (type,target)
  friend bool operator==(const VmKnownGood&, const VmKnownGood&) = default;
};

// "VM `vm` may connect this TVD with TVD `peer`". Effective only when the
// peer's policy says the same about this TVD (see GatewayAllowed).
struct GatewayRule {
  std::string vm;
  std::string peer;
  friend bool operator==(const GatewayRule&, const GatewayRule&) = default;
};

struct TvdPolicy {
  std::string name;               // IsTvdName
  std::uint32_t id = 0;           // 1..16383, unique per datacenter
  std::string owner;              // tenant certificate subject
  std::vector<Network> networks;  // at least one; unique names and VNIs
  TransportProtection transport;
  HostRequirements host_requirements;
  std::vector<std::string> authorized_hosts;  // certificate subjects
  std::vector<VmKnownGood> vms;               // unique VM names
  std::vector<GatewayRule> gateways;          // unique (vm, peer)
  std::vector<std::string> disk_key_vms;      // each listed in `vms`
  // <vtpm/> in <key-release>: every VM of the TVD gets a vTPM whose state
  // key the master releases; <vtpm vm="..."/>: those VMs (each in `vms`).
  bool vtpm_all_vms = false;
  std::vector<std::string> vtpm_vms;
  // <quotas>: what the TVD may hold on any one host (enforced by that
  // host's libvirt relay) and in total across its hosts (the relay claims
  // each increase from the master). Empty: no such quota (quota.h).
  QuotaLimits per_host_quota;
  QuotaLimits total_quota;

  const Network* FindNetwork(std::string_view network_name) const;
  const VmKnownGood* FindVm(std::string_view vm_name) const;
  bool IsHostAuthorized(std::string_view subject) const;
  bool ReleasesDiskKeyTo(std::string_view vm_name) const;
  // True when the policy gives `vm_name` a vTPM (and releases its state
  // key): <vtpm/> for all VMs in `vms`, or <vtpm vm="vm_name"/>.
  bool GrantsVtpmTo(std::string_view vm_name) const;

  friend bool operator==(const TvdPolicy&, const TvdPolicy&) = default;
};

// True only when `a` allows `vm` as a gateway to `b` AND `b` allows `vm` as a
// gateway to `a` (and a and b are different TVDs). Default deny.
bool GatewayAllowed(const TvdPolicy& a, const TvdPolicy& b,
                    std::string_view vm);

std::string_view NetworkKindName(NetworkKind kind);  // "data"|"management"
std::string_view MeasureTypeName(MeasureType type);  // "config"|"kernel"|...

}  // namespace tvd::policy

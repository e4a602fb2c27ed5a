// What a tvd-proxy needs from the TVD master, as a small interface: the real
// implementation speaks the master protocol over the trusted channel; unit
// tests use a fake.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tvd/policy/tvd_policy.h"
#include "tvd/protocol/messages.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::proxy {

// Another host of the TVD, to which this host keeps tunnels.
struct Member {
  std::string host;     // identity (certificate subject / host name)
  std::string address;  // underlay address
  friend bool operator==(const Member&, const Member&) = default;
};

// What the master hands a host that it admitted into a TVD. Tunnel PSKs
// are derived from the key with protocol::DeriveTunnelPsk (tunnel_key.h).
struct JoinGrant {
  policy::TvdPolicy policy;
  std::uint64_t key_epoch = 0;
  SecureBytes tvd_key;          // the TVD's key material, memory only
  std::vector<Member> members;  // the other hosts, without this one
};

// Something the master tells a member after the join.
struct MasterUpdate {
  enum class Kind { kMembers, kPolicy, kEvicted, kGuestQuote };
  Kind kind = Kind::kMembers;
  std::vector<Member> members;  // kMembers: the complete new list
  std::uint64_t key_epoch = 0;  // kMembers: the epoch of `key`
  SecureBytes key;              // kMembers: the new TVD key, or empty
  std::optional<policy::TvdPolicy> policy;  // kPolicy: the new policy
  std::string reason;                       // kEvicted: why
  protocol::GuestQuoteOrder guest_quote{};  // kGuestQuote: what to ask

  // A copy with the key cloned (SecureBytes is move-only): every field.
  MasterUpdate Clone() const {
    MasterUpdate copy;
    copy.kind = kind;
    copy.members = members;
    copy.key_epoch = key_epoch;
    copy.key = key.Clone();
    copy.policy = policy;
    copy.reason = reason;
    copy.guest_quote = guest_quote;
    return copy;
  }
};

class MasterLink {
 public:
  virtual ~MasterLink() = default;
  // Asks to join `tvd`. PermissionDenied / Unauthenticated when the master
  // refuses this host, Unavailable when it cannot be reached.
  virtual StatusOr<JoinGrant> Join(const std::string& tvd) = 0;
  // Tells the master this host left `tvd`.
  virtual Status Leave(const std::string& tvd) = 0;
  // The disk key of VM `vm` (released only to an attested member and only
  // for VMs the policy lists). PermissionDenied when refused.
  virtual StatusOr<SecureBytes> RequestDiskKey(const std::string& tvd,
                                               const std::string& vm) = 0;
  // The state key of VM `vm`'s vTPM (released only to an attested member,
  // for a VM the policy gives a vTPM and that runs on no other host).
  // PermissionDenied when refused.
  virtual StatusOr<SecureBytes> RequestVtpmKey(const std::string& tvd,
                                               const std::string& vm) = 0;
  // Records the EK and AK of the vTPM this host made for VM `vm` (marshalled
  // TPM2B_PUBLIC each). The master's refusal (bad evidence, not a member,
  // the VM runs elsewhere, no key released) as its error; the proxy does not
  // start a VM whose vTPM is not recorded.
  virtual Status RecordVtpm(const std::string& tvd, const std::string& vm,
                            const std::vector<std::uint8_t>& ek_public,
                            const std::vector<std::uint8_t>& ak_public) = 0;
  // Records at the master that VM `vm` (domain UUID `uuid`, may be empty)
  // now runs on this host in `tvd` (attached) or no longer does. The master
  // lists it in its admin view; nothing depends on it for security, so a
  // failure (Unavailable, the master's refusal) is for the caller to log and
  // report again later, never a reason to undo a running VM.
  virtual Status ReportVm(const std::string& tvd, const std::string& vm,
                          const std::string& uuid, bool attached) = 0;
  // Claims (or, with zero `adds`, reports) this host's usage of `tvd`
  // against the TVD's total quota (protocol::UsageClaim). OK: granted;
  // ResourceExhausted with the master's "quota of TVD ... exceeded: ..."
  // wording; Unavailable when the master cannot be reached. Called from the
  // usage socket's thread, concurrently with everything else: an
  // implementation must be thread-safe here.
  virtual Status ClaimUsage(const std::string& tvd,
                            const policy::QuotaAmounts& held,
                            const policy::QuotaAmounts& adds) = 0;
  // Answers a GuestQuoteOrder (MasterUpdate::kGuestQuote) to the master
  // that sent it. The master's refusal (the order timed out meanwhile) or
  // Unavailable; either way nothing is retried: the tenant asks again.
  virtual Status ReportGuestQuote(const protocol::GuestQuoteReport& report) = 0;
  // Called (from the link's own thread or from Poll) for each update.
  using UpdateHandler = std::function<void(const MasterUpdate&)>;
  virtual void SetUpdateHandler(UpdateHandler handler) = 0;
};

}  // namespace tvd::proxy

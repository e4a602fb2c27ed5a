// Requests a host sends on their own connection: LeaveNotice, VmReport,
// DiskKeyRequest, VtpmKeyRequest, VtpmRecord, GuestQuoteReport, UsageClaim,
// each answered
// kAck / DiskKeyGrant / VtpmKeyGrant or kError. Key
// release and VM reports need the host's attested member channel of that TVD; a
// key is sent only after this very connection passed an attestation round
// bound to its own TLS exporter (docs/master.md section 5).
#pragma once

#include "master_core.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

struct KeyKind;  // a disk key or a vTPM state key (host_requests.cc)

class HostRequests {
 public:
  explicit HostRequests(MasterCore& core) : core_(core) {}
  // PermissionDenied "host requests need a host certificate; peer is X" for
  // another role; then per kind (below).
  Status Handle(channel::Connection& conn, const channel::Frame& frame);
  // UsageClaim: checked against the TVD's total quota (TvdRegistry::
  // ClaimUsage), stored, answered kAck or the refusal (audited as
  // "quota-claim"). PermissionDenied "usage claims need a host certificate;
  // peer is X" for another role.
  Status UsageClaim(channel::Connection& conn, const channel::Frame& frame);

 private:
  Status Leave(channel::Connection& conn, const channel::Frame& frame);
  Status VmReport(channel::Connection& conn, const channel::Frame& frame);
  Status DiskKey(channel::Connection& conn, const channel::Frame& frame);
  // VtpmKeyRequest: as DiskKey, for a VM the policy gives a vTPM
  // (TvdRegistry::CheckVtpmRequest) and that is not attached on another
  // host (PermissionDenied "VM V of TVD X runs on host H2, not on H").
  Status VtpmKey(channel::Connection& conn, const channel::Frame& frame);
  // Both: the member checks, this connection's own attestation, then the
  // key read or created on the journal's thread and sent.
  Status ReleaseKey(channel::Connection& conn, const KeyKind& kind,
                    const std::string& tvd, const std::string& vm);
  // VtpmRecord: InvalidArgument "vTPM of X/V: ek_public: ..." /
  // "ak_public: ..." for evidence that is not an EK and an AK
  // (attest/tpm_public.h CheckEndorsementKey, CheckAttestationKey); the checks
  // of CheckVtpmRequest; the VM attached elsewhere as for VtpmKey;
  // FailedPrecondition "the master released no vTPM key for VM V of TVD X
  // (ask for it first)". Recorded: (tvd, vm, host, ek, ak, now), kAck.
  Status RecordVtpm(channel::Connection& conn, const channel::Frame& frame);
  // GuestQuoteReport: handed to the tenant request waiting for it
  // (GuestQuoteBroker::Fulfil's refusals), kAck.
  Status GuestQuote(channel::Connection& conn, const channel::Frame& frame);

  MasterCore& core_;
};

}  // namespace tvd::master

// Requests a host sends on their own connection: LeaveNotice, VmReport,
// DiskKeyRequest, UsageClaim, each answered kAck / DiskKeyGrant or kError. Key
// release and VM reports need the host's attested member channel of that TVD; a
// key is sent only after this very connection passed an attestation round
// bound to its own TLS exporter (docs/master.md section 5).
#pragma once

#include "master_core.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

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

  MasterCore& core_;
};

}  // namespace tvd::master

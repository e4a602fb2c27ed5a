// The one request a tenant sends the master: the deep quote of one of its
// VMs (VmAttestRequest, docs/vtpm.md). The master
//   1. checks the TVD is the tenant's (its policy's <owner> names the
//      tenant certificate: SubjectNamesTenant), answering a TVD that does
//      not exist the same way, so a tenant learns nothing of others';
//   2. finds the vTPM binding the VM's proxy recorded, and that the host
//      is still a member, attested, with its member channel here;
//   3. pushes a GuestQuoteOrder on that channel and waits (bounded) for the
//      host's GuestQuoteReport (HostRequests, GuestQuoteBroker);
//   4. signs the statement (attest::IssueVtpmStatement) with its own
//      certificate's key and answers the evidence JSON.
// Nothing is written but the audit row; the tenant verifies the evidence.
#pragma once

#include "master_core.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

class TenantRequests {
 public:
  explicit TenantRequests(MasterCore& core) : core_(core) {}
  // Errors (each audited as "vm-attest", the tenant gets the message):
  //   PermissionDenied "tenant requests need a tenant certificate; peer is
  //     X"; "TVD T is not tenant:N's";
  //   NotFound "VM V of TVD T has no vTPM bound";
  //   FailedPrecondition "host H of VM V is no member of TVD T";
  //     "host H failed its latest attestation";
  //   Unavailable "host H of VM V is served by another master";
  //     "host H did not answer within N ms"; "host H: <its reason>";
  //   GuestQuoteBroker::Open's ResourceExhausted;
  //   the guest's answer as ParseGuestQuoteAnswer refuses it, prefixed
  //     "guest of VM V: ".
  Status Handle(channel::Connection& conn, const channel::Frame& frame);

 private:
  Status AttestVm(channel::Connection& conn,
                  const protocol::VmAttestRequest& request);

  MasterCore& core_;
};

}  // namespace tvd::master

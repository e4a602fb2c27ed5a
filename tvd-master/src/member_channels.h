// The join and the member channel: authorize, admit (enrolment and the
// first attestation), record the membership, answer the grant, then serve
// the channel: write what the hub pushes as soon as it is pushed, and
// re-attest on the TVD's schedule. A failed re-attestation evicts the host
// from every TVD.
#pragma once

#include "master_core.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

class MemberChannels {
 public:
  explicit MemberChannels(MasterCore& core) : core_(core) {}
  // `first` is the JoinRequest. Errors: the registry's (CheckJoin, Join),
  // the attestation's, the journal's; the channel's I/O errors.
  Status Join(channel::Connection& conn, const channel::Frame& first);

 private:
  Status Admit(channel::Connection& conn, const attest::TcbRequirements& req);
  Status Serve(channel::Connection& conn, const MemberSessionPtr& session);

  MasterCore& core_;
};

}  // namespace tvd::master

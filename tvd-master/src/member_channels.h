// The join and the member channel: authorize, admit (enrolment and the
// first attestation), record the membership, answer the grant, then hand
// the channel to the member loop (member_loop.h), which writes what the
// hub pushes and re-attests on the TVD's schedule. A failed re-attestation
// evicts the host from every TVD.
#pragma once

#include <memory>

#include "master_core.h"
#include "member_loop.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

class MemberChannels {
 public:
  // Starts the member loop; its errors (MemberLoop::Start).
  static StatusOr<std::unique_ptr<MemberChannels>> Start(MasterCore& core);
  // `first` is the JoinRequest. Errors: Unavailable "too many member
  // channels (limit N)" when options.server.max_connections channels are
  // open already; the registry's (CheckJoin, Join), the attestation's, the
  // journal's; the channel's I/O errors. OK once the channel is handed to
  // the loop (it is then served after this returns).
  Status Join(channel::Connection& conn, const channel::Frame& first);
  // Closes every member channel and joins the loop's threads. Idempotent.
  void Stop();

 private:
  explicit MemberChannels(MasterCore& core) : core_(core) {}
  Status Admit(channel::Connection& conn, const attest::TcbRequirements& req);
  // One re-attestation round on the member channel (see MemberLoop::Hooks).
  StatusOr<std::chrono::milliseconds> Round(channel::Connection& conn,
                                            const MemberSessionPtr& session);
  std::optional<attest::TcbRequirements> Requirements(
      const MemberSessionPtr& session);

  MasterCore& core_;
  std::unique_ptr<MemberLoop> loop_;
};

}  // namespace tvd::master

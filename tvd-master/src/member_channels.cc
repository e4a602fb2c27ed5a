#include "member_channels.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

#include "tvd/attest/attestation_session.h"
#include "tvd/attest/messages.h"
#include "tvd/channel/channel_client.h"
#include "tvd/log.h"
#include "tvd/master/reattest_schedule.h"
#include "tvd/mutex.h"

namespace tvd::master {
namespace {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

StoreWrite AttestationRow(const std::string& host, bool ok,
                          const std::string& reason) {
  // Isolated: one host row no decision depends on; a failure fails only
  // the request that wrote it, as before the journal.
  return {[=](Store& s) { return s.SetAttestation(host, ok, reason); }, true,
          "SetAttestation " + host, true};
}

// The frames in one TLS write (one record while they fit in 16 KiB).
Status WriteFrames(
    Connection& conn,
    const std::vector<std::shared_ptr<const SecureBytes>>& frames,
    std::chrono::milliseconds timeout) {
  if (frames.size() == 1) return conn.WriteRaw(frames[0]->view(), timeout);
  std::size_t total = 0;
  for (const auto& f : frames) total += f->size();
  SecureBytes all(total);  // frames may hold a TVD key: wiped when done
  std::size_t offset = 0;
  for (const auto& f : frames) {
    std::memcpy(all.data() + offset, f->data(), f->size());
    offset += f->size();
  }
  return conn.WriteRaw(all.view(), timeout);
}

}  // namespace

WriteJournal::Ticket MasterCore::SubmitLocked(Decision decision,
                                              std::function<void()> after) {
  std::vector<std::pair<MemberSessionPtr, Notice>> pushes;
  for (Notice& n : decision.notices) {
    MemberSessionPtr s =
        n.end ? hub.Remove(n.tvd, n.host) : hub.Find(n.tvd, n.host);
    if (s) pushes.emplace_back(std::move(s), std::move(n));
  }
  // Framed on the journal's thread once the writes are durable, outside
  // the decision lock; one frame per distinct message, not per member.
  return journal.Submit(std::move(decision.writes), [pushes = std::move(pushes),
                                                     after = std::move(after)] {
    FrameOnce frames;
    for (const auto& [session, n] : pushes) {
      session->Push(n.type, frames.Frame(n.type, n.payload));
      if (n.end) session->End();
    }
    if (after) after();
  });
}

void MasterCore::Audit(const std::string& actor, const std::string& action,
                       const std::string& subject, bool allowed,
                       const std::string& reason) {
  Status s = journal.Apply({{[=](Store& st) {
                               return st.Audit(actor, action, subject, allowed,
                                               reason);
                             },
                             false, "Audit " + action + " " + subject}},
                           {});
  if (!s.ok()) log::Error("audit row lost: ", s.ToString());
}

Status MemberChannels::Admit(Connection& conn,
                             const attest::TcbRequirements& req) {
  const auto& t = core_.options.timeouts;
  TVD_ASSIGN_OR_RETURN(Frame frame, conn.ReadFrame(t.read));
  if (frame.type == MessageType::kEnrolRequest) {
    TVD_ASSIGN_OR_RETURN(attest::EnrolRequest request,
                         attest::DecodeEnrolRequest(frame.payload));
    TVD_ASSIGN_OR_RETURN(auto begun,
                         core_.enroller.Begin(conn.peer(), request));
    std::vector<std::uint8_t> ak = begun.second.ak_public;
    TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kEnrolChallenge,
                                        attest::Encode(begun.first), t.write));
    TVD_ASSIGN_OR_RETURN(Frame proof_frame,
                         conn.ReadExpected(MessageType::kEnrolProof, t.read));
    TVD_ASSIGN_OR_RETURN(attest::EnrolProof proof,
                         attest::DecodeEnrolProof(proof_frame.payload));
    TVD_RETURN_IF_ERROR(core_.enroller.Finish(std::move(begun.second), proof));
    const std::string host = conn.peer().name;
    TVD_RETURN_IF_ERROR(core_.journal.Apply(
        {{[host, ak](Store& s) { return s.AddAk(host, ak); }, true,
          "AddAk " + host, true}},
        {}));
    TVD_RETURN_IF_ERROR(
        conn.WriteFrame(MessageType::kEnrolResult, {}, t.write));
    TVD_ASSIGN_OR_RETURN(frame, conn.ReadFrame(t.read));
  }
  if (frame.type == MessageType::kError) {
    return channel::DecodeErrorPayload(frame.payload).WithContext("peer");
  }
  if (frame.type != MessageType::kAttestHello) {
    return ProtocolError(
        "expected an enrolment request or attestation hello after the "
        "JoinRequest, got message type " +
        std::to_string(static_cast<int>(frame.type)));
  }
  attest::MasterAttestation attestation(core_.enroller, core_.verifier,
                                        core_.nonces, t);
  return attestation.AttestOnce(conn, req);
}

Status MemberChannels::Join(Connection& conn, const Frame& first) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(protocol::JoinRequest request,
                       protocol::DecodeJoinRequest(first.payload));
  const std::string subject = Subject(request.tvd, peer.name);
  StatusOr<attest::TcbRequirements> req = [&] {
    MutexLock lock(core_.mutex);
    return core_.registry.CheckJoin(request.tvd, peer);
  }();
  if (!req.ok()) {
    core_.Audit(actor, "join", subject, false, req.status().message());
    return req.status();
  }
  Status attested = Admit(conn, *req);
  if (!attested.ok()) {
    TVD_RETURN_IF_ERROR(core_.journal.Apply(
        {AttestationRow(peer.name, false, attested.message())}, {}));
    core_.Audit(actor, "join", subject, false,
                "attestation: " + attested.message());
    return attested;
  }
  TVD_RETURN_IF_ERROR(
      core_.journal.Apply({AttestationRow(peer.name, true, "")}, {}));

  TVD_ASSIGN_OR_RETURN(MemberSessionPtr session,
                       MemberSession::Create(request.tvd, peer.name));
  session->attested = true;  // Admit() above verified this very channel
  protocol::JoinGrant grant;
  Status sent = core_.DecideAndWait([&]() -> StatusOr<WriteJournal::Ticket> {
    MutexLock lock(core_.mutex);
    TVD_ASSIGN_OR_RETURN(
        JoinOutcome outcome,
        core_.registry.Join(request.tvd, peer.name, request.underlay, actor));
    grant = std::move(outcome.grant);
    MemberSessionPtr superseded = core_.hub.Attach(session);
    // Ended at once, not after the write: should the decision lose its
    // race and be made again, this channel is the one attached.
    if (superseded && superseded != session) superseded->End();
    return core_.SubmitLocked(std::move(outcome.decision));
  });
  if (sent.ok()) {
    std::vector<std::uint8_t> encoded = protocol::Encode(grant);
    SecureBytes payload{std::span<const std::uint8_t>(encoded)};
    OPENSSL_cleanse(encoded.data(), encoded.size());
    sent = conn.WriteFrame(MessageType::kJoinGrant, payload.view(),
                           core_.options.timeouts.write);
  }
  if (sent.ok()) sent = Serve(conn, session);
  core_.hub.Detach(session);
  return sent;
}

Status MemberChannels::Serve(Connection& conn,
                             const MemberSessionPtr& session) {
  auto requirements = [&]() -> std::optional<attest::TcbRequirements> {
    MutexLock lock(core_.mutex);
    const TvdState* t = core_.registry.Find(session->tvd());
    if (!t) return std::nullopt;
    return t->requirements;
  };
  // A TVD removed meanwhile: no rounds; its LeaveNotice ends the channel.
  constexpr std::chrono::milliseconds kRemovedWait{1000};
  auto first = requirements();
  ReattestSchedule schedule(*core_.clock,
                            first ? first->interval : kRemovedWait);
  // The outbox is taken at the start and after each wakeup only: a push
  // that lands after a Take() leaves the wakeup set, so the wait below
  // returns at once.
  //
  // Membership updates that come within kMembershipCoalescing of this
  // channel's last write wait for the rest of that interval and then leave
  // together in one write. In a join storm every join is an update for
  // every member, and one write per update per member made the master's
  // socket writes grow with the square of the TVD's size. An update after
  // a quiet interval leaves at once, and anything else (a policy update, a
  // LeaveNotice) leaves at once with what is pending before it. Real time,
  // not the injected clock: this paces I/O and decides nothing.
  constexpr std::chrono::milliseconds kMembershipCoalescing{50};
  std::vector<std::shared_ptr<const SecureBytes>> pending;
  bool urgent = false;
  bool end = false;
  std::chrono::steady_clock::time_point last_write{};
  bool woken = true;
  while (!core_.stop) {
    if (woken) {
      MemberSession::Batch batch = session->Take();
      for (auto& [type, frame] : batch.frames) {
        if (type != MessageType::kMembershipUpdate) urgent = true;
        pending.push_back(std::move(frame));
      }
      if (batch.end) urgent = end = true;
    }
    auto now = std::chrono::steady_clock::now();
    if (!pending.empty() &&
        (urgent || now - last_write >= kMembershipCoalescing)) {
      TVD_RETURN_IF_ERROR(
          WriteFrames(conn, pending, core_.options.timeouts.write));
      pending.clear();
      urgent = false;
      last_write = now;
    }
    if (end) {
      conn.Close();
      return Status::Ok();
    }
    std::chrono::milliseconds wait = schedule.Remaining();
    if (!pending.empty()) {
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(
                                last_write + kMembershipCoalescing - now));
    }
    auto wake = conn.WaitReadableOrWoken(wait, session->wake_fd());
    woken = wake == Connection::Wake::kWoken;
    if (wake == Connection::Wake::kReadable) {
      TVD_ASSIGN_OR_RETURN(Frame frame,
                           conn.ReadFrame(core_.options.timeouts.read));
      if (frame.type == MessageType::kError) {
        return channel::DecodeErrorPayload(frame.payload).WithContext("peer");
      }
      return ProtocolError(
          "unsolicited message type " +
          std::to_string(static_cast<int>(frame.type)) +
          " on the member channel (requests go on their own connection)");
    }
    if (wake == Connection::Wake::kWoken || !schedule.Due()) continue;
    auto req = requirements();
    if (!req) {
      schedule.Passed(kRemovedWait);
      continue;
    }
    attest::MasterAttestation attestation(core_.enroller, core_.verifier,
                                          core_.nonces, core_.options.timeouts);
    Status s = attestation.AttestOnce(conn, *req);
    if (s.code() == ErrorCode::kUnavailable) return s;  // channel dropped
    if (!s.ok()) {
      // No key or report is served for this host from here on, even before
      // the eviction below is durable.
      session->attested = false;
    }
    TVD_RETURN_IF_ERROR(core_.journal.Apply(
        {AttestationRow(session->host(), s.ok(), s.message())}, {}));
    if (!s.ok()) {
      core_.Audit("master", "reattest",
                  Subject(session->tvd(), session->host()), false, s.message());
      Status evicted =
          core_.DecideAndWait([&]() -> StatusOr<WriteJournal::Ticket> {
            MutexLock lock(core_.mutex);
            return core_.SubmitLocked(core_.registry.Evict(
                session->host(), "re-attestation failed: " + s.message()));
          });
      if (!evicted.ok()) {
        log::Error("eviction of ", session->host(), ": ", evicted.ToString());
      }
      // The LeaveNotice (if the host was still a member) is queued; end
      // after it in any case.
      session->End();
      continue;
    }
    session->attested = true;  // this round proved the channel again
    schedule.Passed(req->interval);
  }
  return Status::Ok();
}

}  // namespace tvd::master

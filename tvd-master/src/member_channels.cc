#include "member_channels.h"


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

// A TVD removed meanwhile: no rounds; its LeaveNotice ends the channel.
constexpr std::chrono::milliseconds kRemovedWait{1000};

StoreWrite AttestationRow(const std::string& host, bool ok,
                          const std::string& reason) {
  // Isolated: one host row no decision depends on; a failure fails only
  // the request that wrote it, as before the journal.
  return {[=](Store& s) { return s.SetAttestation(host, ok, reason); }, true,
          "SetAttestation " + host, true};
}

}  // namespace

WriteJournal::Ticket MasterCore::SubmitLocked(Decision decision,
                                              std::function<void()> after) {
  // A broadcast gets its place in the TVD's feed now (the decision order);
  // the notices for one member each are matched to their channels in one
  // hub lookup (a decision about a TVD may name many, e.g. its removal).
  struct Item {
    Notice notice;
    std::uint64_t seq = 0;     // a broadcast's
    MemberSessionPtr session;  // a member's (null: no channel)
  };
  std::vector<Item> items;
  items.reserve(decision.notices.size());
  std::vector<const std::string*> tvds, hosts;
  std::vector<bool> remove;
  std::vector<std::size_t> single;  // items[single[k]] asked as k
  for (Notice& n : decision.notices) {
    items.push_back({std::move(n), 0, nullptr});
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Notice& n = items[i].notice;
    if (n.broadcast) {
      items[i].seq = hub.Reserve(n.tvd);
      continue;
    }
    single.push_back(i);
    tvds.push_back(&n.tvd);
    hosts.push_back(&n.host);
    remove.push_back(n.end);
  }
  if (!single.empty()) {
    std::vector<MemberSessionPtr> sessions = hub.FindAll(tvds, hosts, remove);
    for (std::size_t k = 0; k < single.size(); ++k) {
      items[single[k]].session = std::move(sessions[k]);
    }
  }
  // Framed on the journal's thread once the writes are durable, outside
  // the decision lock; one frame (and one decoding of a MembershipUpdate)
  // per distinct message, not per member; in the decision's order.
  return journal.Submit(std::move(decision.writes), [this,
                                                     items = std::move(items),
                                                     after = std::move(after)] {
    FrameOnce frames;
    for (const Item& item : items) {
      const Notice& n = item.notice;
      auto decoded = n.type == MessageType::kMembershipUpdate
                         ? frames.Decoded(n.payload)
                         : nullptr;
      if (n.broadcast) {
        hub.Publish(n.tvd, item.seq, n.type, frames.Frame(n.type, n.payload),
                    std::move(decoded), n.host);
        continue;
      }
      if (!item.session) continue;
      item.session->Push(n.type, frames.Frame(n.type, n.payload),
                         std::move(decoded));
      if (n.end) item.session->End();
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

StatusOr<std::unique_ptr<MemberChannels>> MemberChannels::Start(
    MasterCore& core) {
  std::unique_ptr<MemberChannels> m(new MemberChannels(core));
  MemberChannels* self = m.get();
  MemberLoop::Hooks hooks;
  hooks.first_interval = [self](const MemberSessionPtr& session) {
    auto req = self->Requirements(session);
    return req ? req->interval : kRemovedWait;
  };
  hooks.round = [self](Connection& conn, const MemberSessionPtr& session) {
    return self->Round(conn, session);
  };
  hooks.ended = [self](const MemberSessionPtr& session, const Connection& conn,
                       const Status& status) {
    self->core_.hub.Detach(session);
    // As the channel server reports the connections it serves itself.
    if (status.ok()) {
      log::Info("channel ", conn.peer_address(), " (", conn.peer().ToString(),
                ") done");
    } else {
      log::Warning("channel ", conn.peer_address(), " (",
                   conn.peer().ToString(), ") refused: ", status.ToString());
    }
  };
  TVD_ASSIGN_OR_RETURN(m->loop_,
                       MemberLoop::Start(*core.clock, std::move(hooks)));
  // A TVD's broadcast tells the loop once, not each of its channels.
  core.hub.SetFeedNotifier([loop = m->loop_.get()](const std::string& tvd,
                                                   MemberSession::Urgency u,
                                                   std::size_t members) {
    loop->TellTvd(tvd, u, members);
  });
  return m;
}

void MemberChannels::Stop() {
  if (!loop_) return;
  core_.hub.SetFeedNotifier(nullptr);
  loop_->Stop();
}

std::optional<attest::TcbRequirements> MemberChannels::Requirements(
    const MemberSessionPtr& session) {
  MutexLock lock(core_.mutex);
  const TvdState* t = core_.registry.Find(session->tvd());
  if (!t) return std::nullopt;
  return t->requirements;
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
  Sha256Digest pcr_digest{};
  TVD_RETURN_IF_ERROR(attestation.AttestOnce(conn, req, &pcr_digest));
  core_.good_attestations.Record(conn.peer().name, pcr_digest);
  return Status::Ok();
}

Status MemberChannels::Join(Connection& conn, const Frame& first) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(protocol::JoinRequest request,
                       protocol::DecodeJoinRequest(first.payload));
  const std::string subject = Subject(request.tvd, peer.name);
  if (const std::size_t limit = core_.options.server.max_connections;
      limit != 0 && loop_->size() >= limit) {
    return Unavailable("too many member channels (limit " +
                       std::to_string(limit) + ")");
  }
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
  SecureBytes grant;
  int decisions = 0;
  Status sent = core_.DecideAndWait([&]() -> StatusOr<WriteJournal::Ticket> {
    MutexLock lock(core_.mutex);
    // Decided again, the join is announced again: the first decision
    // counted the host a member (which it may be: its transaction may have
    // committed with its answer lost), but its notice was never sent.
    TVD_ASSIGN_OR_RETURN(
        JoinOutcome outcome,
        core_.registry.Join(request.tvd, peer.name, request.underlay, actor,
                            /*announce=*/decisions++ > 0));
    grant = std::move(outcome.grant);
    MemberSessionPtr superseded = core_.hub.Attach(session);
    // Ended at once, not after the write: should the decision lose its
    // race and be made again, this channel is the one attached.
    if (superseded && superseded != session) superseded->End();
    return core_.SubmitLocked(std::move(outcome.decision));
  });
  if (sent.ok()) {
    sent = conn.WriteFrame(MessageType::kJoinGrant, grant.view(),
                           core_.options.timeouts.write);
  }
  if (sent.ok()) {
    // From here on the loop serves the channel (and detaches the session
    // when it ends); this thread returns.
    sent = loop_->Adopt(conn.TakeOver(), session);
    if (sent.ok()) return sent;
  }
  core_.hub.Detach(session);
  return sent;
}

StatusOr<std::chrono::milliseconds> MemberChannels::Round(
    Connection& conn, const MemberSessionPtr& session) {
  auto req = Requirements(session);
  if (!req) return kRemovedWait;
  attest::MasterAttestation attestation(core_.enroller, core_.verifier,
                                        core_.nonces, core_.options.timeouts);
  Sha256Digest pcr_digest{};
  Status s = attestation.AttestOnce(conn, *req, &pcr_digest);
  if (s.code() == ErrorCode::kUnavailable) return s;  // channel dropped
  if (s.ok()) core_.good_attestations.Record(session->host(), pcr_digest);
  if (!s.ok()) {
    // No key or report is served for this host from here on, even before
    // the eviction below is durable.
    session->attested = false;
  }
  TVD_RETURN_IF_ERROR(core_.journal.Apply(
      {AttestationRow(session->host(), s.ok(), s.message())}, {}));
  if (!s.ok()) {
    core_.Audit("master", "reattest", Subject(session->tvd(), session->host()),
                false, s.message());
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
    return req->interval;
  }
  session->attested = true;  // this round proved the channel again
  return req->interval;
}

}  // namespace tvd::master

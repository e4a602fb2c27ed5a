#include "admin_requests.h"

#include "tvd/master/query_json.h"
#include "tvd/mutex.h"
#include "tvd/policy/tvd_policy_parser.h"

namespace tvd::master {

using channel::Connection;
using channel::Frame;
using channel::MessageType;

Status AdminRequests::Handle(Connection& conn, Frame frame) {
  const pki::Identity peer = conn.peer();
  if (peer.role != pki::Role::kAdmin) {
    Status s = PermissionDenied(
        "admin requests need an admin certificate; peer is " + peer.ToString());
    core_.Audit(peer.ToString(), "admin", "", false, s.message());
    return s;
  }
  while (true) {
    TVD_ASSIGN_OR_RETURN(std::string json, Request(peer, frame));
    TVD_RETURN_IF_ERROR(conn.WriteFrame(
        MessageType::kAdminReply, protocol::Encode(protocol::AdminReply{json}),
        core_.options.timeouts.write));
    auto next = conn.ReadFrame(core_.options.timeouts.read);
    if (!next.ok()) {
      return next.status().code() == ErrorCode::kUnavailable ? Status::Ok()
                                                             : next.status();
    }
    frame = std::move(next).value();
    if (frame.type < MessageType::kTvdAdd ||
        frame.type > MessageType::kAdminQuery) {
      return ProtocolError("unexpected message type " +
                           std::to_string(static_cast<int>(frame.type)) +
                           " on an admin channel");
    }
  }
}

StatusOr<std::string> AdminRequests::Request(const pki::Identity& admin,
                                             const Frame& frame) {
  if (frame.type != MessageType::kAdminQuery) {
    TVD_RETURN_IF_ERROR(core_.Serving());
    return Change(admin.ToString(), frame);
  }
  TVD_ASSIGN_OR_RETURN(auto q, protocol::DecodeAdminQuery(frame.payload));
  if (q.kind == protocol::AdminQueryKind::kMaster) {
    return core_.replica_status();
  }
  // The registry of a master cut off from its store may be stale.
  TVD_RETURN_IF_ERROR(core_.Serving());
  std::vector<TvdView> snapshot;
  {
    MutexLock lock(core_.mutex);
    snapshot = SnapshotForQuery(
        core_.registry, [&](const std::string& tvd, const std::string& host) {
          return core_.hub.Find(tvd, host) != nullptr;
        });
  }
  // Every change decided before the snapshot is durable before the store
  // is read: the answer never mixes a newer registry with an older store.
  TVD_RETURN_IF_ERROR(core_.journal.Apply({}, {}));
  return RenderQuery(q, snapshot, *core_.store);
}

StatusOr<std::string> AdminRequests::Change(const std::string& actor,
                                            const Frame& frame) {
  std::string action;
  std::string subject;
  auto refuse = [&](const Status& s) {
    core_.Audit(actor, action, subject, false, s.message());
    return s;
  };
  StatusOr<AdminOutcome> outcome = InvalidArgument("no change");
  WriteJournal::Ticket ticket;
  if (frame.type == MessageType::kTvdRemove) {
    action = "tvd-remove";
    TVD_ASSIGN_OR_RETURN(auto rm, protocol::DecodeTvdRemove(frame.payload));
    subject = rm.tvd;
    MutexLock lock(core_.mutex);
    outcome = core_.registry.RemoveTvd(rm.tvd, actor);
    if (outcome.ok()) ticket = core_.SubmitLocked(std::move(outcome->decision));
  } else {
    bool add = frame.type == MessageType::kTvdAdd;
    action = add ? "tvd-add" : "tvd-update";
    std::string xml;
    if (add) {
      TVD_ASSIGN_OR_RETURN(auto m, protocol::DecodeTvdAdd(frame.payload));
      xml = std::move(m.policy_xml);
    } else {
      TVD_ASSIGN_OR_RETURN(auto m, protocol::DecodeTvdUpdate(frame.payload));
      xml = std::move(m.policy_xml);
    }
    auto parsed = policy::ParseTvdPolicy(xml, action);
    if (!parsed.ok()) return refuse(parsed.status());
    subject = parsed->name;
    MutexLock lock(core_.mutex);
    outcome = add ? core_.registry.AddTvd(std::move(parsed).value(),
                                          std::move(xml), actor)
                  : core_.registry.UpdateTvd(std::move(parsed).value(),
                                             std::move(xml), actor);
    if (outcome.ok()) ticket = core_.SubmitLocked(std::move(outcome->decision));
  }
  if (!outcome.ok()) return refuse(outcome.status());
  TVD_RETURN_IF_ERROR(core_.journal.Wait(ticket));
  return outcome->reply_json;
}

}  // namespace tvd::master

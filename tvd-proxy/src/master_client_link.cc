#include "tvd/proxy/master_client_link.h"

#include <chrono>

#include "tvd/log.h"
#include "tvd/mutex.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/values.h"

namespace tvd::proxy {

namespace {

std::vector<Member> Members(const std::vector<protocol::Member>& in) {
  std::vector<Member> out;
  for (const protocol::Member& m : in) out.push_back({m.host, m.underlay});
  return out;
}

}  // namespace

MasterClientLink::MasterClientLink(protocol::MasterClient& client,
                                   std::string underlay)
    : client_(client), underlay_(std::move(underlay)) {}

MasterClientLink::~MasterClientLink() {
  stop_ = true;
  if (serving_.joinable()) serving_.join();
  client_.Close();
}

void MasterClientLink::SetUpdateHandler(UpdateHandler handler) {
  MutexLock lock(mu_);
  handler_ = std::move(handler);
}

void MasterClientLink::Deliver(const MasterUpdate& update) {
  UpdateHandler handler;
  {
    MutexLock lock(mu_);
    handler = handler_;
  }
  if (handler) handler(update);
}

StatusOr<JoinGrant> MasterClientLink::JoinOnce(const std::string& tvd) {
  std::optional<Sha256Digest> known;
  {
    MutexLock lock(mu_);
    known = known_digest_;
  }
  TVD_ASSIGN_OR_RETURN(protocol::JoinGrant g,
                       client_.Join({tvd, underlay_, known}));
  if (g.tvd != tvd) {
    return ProtocolError("master granted TVD '" + g.tvd + "' for a join of '" +
                         tvd + "'");
  }
  TVD_ASSIGN_OR_RETURN(policy::TvdPolicy pol,
                       policy::ParseTvdPolicy(g.policy_xml, "master policy"));
  if (policy::CanonicalDigest(pol) != g.policy_digest) {
    return ProtocolError("the policy of TVD '" + tvd +
                         "' does not match the digest the master sent");
  }
  {
    MutexLock lock(mu_);
    known_digest_ = g.policy_digest;
  }
  JoinGrant grant;
  grant.policy = std::move(pol);
  grant.key_epoch = g.epoch;
  grant.tvd_key = std::move(g.key);
  grant.members = Members(g.members);
  return grant;
}

StatusOr<JoinGrant> MasterClientLink::Join(const std::string& tvd) {
  if (serving_.joinable()) {
    stop_ = true;
    serving_.join();
  }
  stop_ = false;
  leaving_ = false;
  TVD_ASSIGN_OR_RETURN(JoinGrant grant, JoinOnce(tvd));
  serving_ = std::thread(&MasterClientLink::ServeLoop, this, tvd);
  return grant;
}

void MasterClientLink::ServeLoop(std::string tvd) {
  protocol::MasterEvents events;
  events.on_membership = [this](protocol::MembershipUpdate u,
                                const protocol::MemberList& list) {
    MasterUpdate update;
    update.kind = MasterUpdate::Kind::kMembers;
    update.members = Members(list.Sorted());
    update.key_epoch = u.epoch;
    update.key = std::move(u.key);
    Deliver(update);
  };
  events.on_policy = [this, &tvd](protocol::PolicyUpdate u) {
    auto pol = policy::ParseTvdPolicy(u.policy_xml, "master policy update");
    if (!pol.ok() || policy::CanonicalDigest(*pol) != u.policy_digest) {
      log::Error("TVD '", tvd,
                 "': ignoring a policy update that does not "
                 "parse or match its digest");
      return;
    }
    {
      MutexLock lock(mu_);
      known_digest_ = u.policy_digest;
    }
    MasterUpdate update;
    update.kind = MasterUpdate::Kind::kPolicy;
    update.policy = std::move(pol).value();
    Deliver(update);
  };
  events.on_leave = [this](protocol::LeaveNotice n) {
    if (leaving_) return;  // confirmation of our own Leave()
    MasterUpdate update;
    update.kind = MasterUpdate::Kind::kEvicted;
    update.reason = n.reason;
    Deliver(update);
    stop_ = true;
  };
  while (!stop_) {
    Status s = client_.Serve(events, stop_);
    if (stop_ || s.ok()) break;
    log::Warning("TVD '", tvd, "': member channel ended: ", s.ToString(),
                 "; joining again");
    // Rejoin until it works or the link stops.
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (stop_) break;
      auto grant = JoinOnce(tvd);
      if (!grant.ok()) {
        log::Warning("TVD '", tvd, "': rejoin: ", grant.status().ToString());
        if (grant.status().code() == ErrorCode::kPermissionDenied ||
            grant.status().code() == ErrorCode::kNotFound) {
          MasterUpdate update;
          update.kind = MasterUpdate::Kind::kEvicted;
          update.reason = grant.status().message();
          Deliver(update);
          stop_ = true;
        }
        continue;
      }
      MasterUpdate update;
      update.kind = MasterUpdate::Kind::kMembers;
      update.members = std::move(grant->members);
      update.key_epoch = grant->key_epoch;
      update.key = std::move(grant->tvd_key);
      Deliver(update);
      break;
    }
  }
}

Status MasterClientLink::Leave(const std::string& tvd) {
  leaving_ = true;
  Status s = client_.Leave(tvd, "operator request");
  // The serving thread may be waiting for the caller's lock (it delivers
  // updates); it is told to stop here and joined in the destructor.
  stop_ = true;
  return s;
}

StatusOr<SecureBytes> MasterClientLink::RequestDiskKey(const std::string& tvd,
                                                       const std::string& vm) {
  TVD_ASSIGN_OR_RETURN(protocol::DiskKeyGrant g,
                       client_.RequestDiskKey(tvd, vm));
  if (g.tvd != tvd || g.vm != vm) {
    return ProtocolError("master sent the disk key of '" + g.tvd + "/" + g.vm +
                         "' for '" + tvd + "/" + vm + "'");
  }
  return std::move(g.key);
}

Status MasterClientLink::ClaimUsage(const std::string& tvd,
                                    const policy::QuotaAmounts& held,
                                    const policy::QuotaAmounts& adds) {
  Status s = client_.ClaimUsage(protocol::UsageClaim{tvd, held, adds});
  constexpr std::string_view kRemote = "peer: ";
  if (s.code() == ErrorCode::kResourceExhausted &&
      s.message().starts_with(kRemote)) {
    return ResourceExhausted(s.message().substr(kRemote.size()));
  }
  return s;
}

Status MasterClientLink::ReportVm(const std::string& tvd, const std::string& vm,
                                  const std::string& uuid, bool attached) {
  protocol::VmReport report{tvd, vm, attached, ""};
  if (policy::IsUuid(uuid)) {
    report.uuid = uuid;
  } else if (!uuid.empty()) {
    log::Warning("VM '", vm, "': '", uuid,
                 "' is not a UUID; reporting the VM without one");
  }
  return client_.ReportVm(report);
}

}  // namespace tvd::proxy

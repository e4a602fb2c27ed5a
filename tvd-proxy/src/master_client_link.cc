#include "tvd/proxy/master_client_link.h"

#include <algorithm>
#include <random>

#include "tvd/log.h"
#include "tvd/mutex.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/values.h"

namespace tvd::proxy {

namespace {

constexpr std::string_view kRemote = "peer: ";

std::vector<Member> Members(const std::vector<protocol::Member>& in) {
  std::vector<Member> out;
  for (const protocol::Member& m : in) out.push_back({m.host, m.underlay});
  return out;
}

void SleepUnlessStopped(std::chrono::milliseconds delay,
                        const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (!stop) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - now, std::chrono::milliseconds(50)));
  }
}

// Every master failed: one master's error as it is; several as one error
// naming each.
Status AllFailed(const std::vector<std::pair<std::string, Status>>& failures) {
  if (failures.size() == 1) return failures[0].second;
  ErrorCode code = failures.back().second.code();
  std::string text;
  for (const auto& [name, status] : failures) {
    if (status.code() != code) code = ErrorCode::kUnavailable;
    if (!text.empty()) text += "; ";
    text += name + ": " + status.message();
  }
  return Status(code, "no master could serve: " + text);
}

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const StatusOr<T>& s) {
  return s.status();
}

}  // namespace

bool MasterClientLink::IsFinalRefusal(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kNotFound:
      return true;
    case ErrorCode::kUnauthenticated:
      // The master's attestation verdict, not a TLS failure on our side.
      return status.message().starts_with(kRemote);
    default:
      return false;
  }
}

MasterClientLink::MasterClientLink(std::vector<MasterChannelPtr> masters,
                                   std::string underlay,
                                   MasterLinkOptions options)
    : masters_(std::move(masters)),
      underlay_(std::move(underlay)),
      options_(std::move(options)) {
  if (!options_.sleep) options_.sleep = SleepUnlessStopped;
  if (!options_.random) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    options_.random = [engine] { return (*engine)(); };
  }
}

MasterClientLink::~MasterClientLink() {
  stop_ = true;
  if (serving_.joinable()) serving_.join();
  for (MasterChannelPtr& m : masters_) m->Close();
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

StatusOr<JoinGrant> MasterClientLink::JoinAt(std::size_t index,
                                             const std::string& tvd) {
  std::optional<Sha256Digest> known;
  {
    MutexLock lock(mu_);
    known = known_digest_;
  }
  TVD_ASSIGN_OR_RETURN(protocol::JoinGrant g,
                       masters_[index]->Join({tvd, underlay_, known}));
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
  if (masters_.empty()) return FailedPrecondition("no master configured");
  if (serving_.joinable()) {
    stop_ = true;
    serving_.join();
  }
  stop_ = false;
  leaving_ = false;
  // One round, no delay: the caller (start-up) reports what it got.
  const std::size_t start = current_;
  std::vector<std::pair<std::string, Status>> failures;
  for (std::size_t k = 0; k < masters_.size(); ++k) {
    const std::size_t i = (start + k) % masters_.size();
    StatusOr<JoinGrant> grant = JoinAt(i, tvd);
    if (grant.ok()) {
      // Another master's member channel of an earlier join is not ours any
      // more.
      if (i != start) masters_[start]->Close();
      current_ = i;
      serving_ = std::thread(&MasterClientLink::ServeLoop, this, tvd);
      return grant;
    }
    masters_[i]->Close();
    if (IsFinalRefusal(grant.status())) return grant.status();
    if (masters_.size() > 1) {
      log::Warning("TVD '", tvd, "': master ", masters_[i]->name(), ": ",
                   grant.status().ToString(), "; trying the next");
    }
    failures.emplace_back(masters_[i]->name(), grant.status());
  }
  return AllFailed(failures);
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
  events.on_guest_quote = [this](protocol::GuestQuoteOrder order) {
    MasterUpdate update;
    update.kind = MasterUpdate::Kind::kGuestQuote;
    update.guest_quote = std::move(order);
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
    const std::size_t serving = current_;
    Status s = masters_[serving]->Serve(events, stop_);
    // OK: a LeaveNotice (eviction, or the answer to our Leave) or the link
    // stops. Neither is ever turned into a rejoin.
    if (stop_ || leaving_ || s.ok()) break;
    log::Warning("TVD '", tvd, "': member channel to master ",
                 masters_[serving]->name(), " ended: ", s.ToString(),
                 masters_.size() > 1 ? "; failing over" : "; joining again");
    if (!Rejoin(tvd, serving)) break;
  }
}

bool MasterClientLink::Rejoin(const std::string& tvd, std::size_t lost) {
  masters_[lost]->Close();
  std::optional<Sha256Digest> before;
  {
    MutexLock lock(mu_);
    before = known_digest_;
  }
  FailoverSchedule schedule(masters_.size(), lost, options_.backoff,
                            options_.random());
  while (!stop_ && !leaving_) {
    const FailoverSchedule::Step step = schedule.Next();
    options_.sleep(FailoverSchedule::Jitter(step.bound, options_.random()),
                   stop_);
    if (stop_ || leaving_) return false;
    auto grant = JoinAt(step.master, tvd);
    if (!grant.ok()) {
      masters_[step.master]->Close();
      log::Warning("TVD '", tvd, "': rejoin at master ",
                   masters_[step.master]->name(), ": ",
                   grant.status().ToString());
      if (IsFinalRefusal(grant.status())) {
        MasterUpdate update;
        update.kind = MasterUpdate::Kind::kEvicted;
        update.reason = grant.status().message();
        Deliver(update);
        stop_ = true;
        return false;
      }
      continue;
    }
    current_ = step.master;
    log::Info("TVD '", tvd, "': member again through master ",
              masters_[step.master]->name(), " (key epoch ", grant->key_epoch,
              ")");
    std::optional<Sha256Digest> after;
    {
      MutexLock lock(mu_);
      after = known_digest_;
    }
    if (after != before) {
      // The policy changed while no master could tell us.
      MasterUpdate update;
      update.kind = MasterUpdate::Kind::kPolicy;
      update.policy = grant->policy;
      Deliver(update);
    }
    MasterUpdate update;
    update.kind = MasterUpdate::Kind::kMembers;
    update.members = std::move(grant->members);
    update.key_epoch = grant->key_epoch;
    update.key = std::move(grant->tvd_key);
    Deliver(update);
    return true;
  }
  return false;
}

template <typename Call>
auto MasterClientLink::AtMaster(bool fail_over, Call call)
    -> decltype(call(std::declval<MasterChannel&>())) {
  using Result = decltype(call(std::declval<MasterChannel&>()));
  if (masters_.empty())
    return Result(FailedPrecondition("no master configured"));
  const std::size_t start = current_;
  const std::size_t tries = fail_over ? masters_.size() : 1;
  std::vector<std::pair<std::string, Status>> failures;
  for (std::size_t k = 0; k < tries; ++k) {
    MasterChannel& m = *masters_[(start + k) % masters_.size()];
    Result r = call(m);
    if (StatusOf(r).code() != ErrorCode::kUnavailable) return r;
    failures.emplace_back(m.name(), StatusOf(r));
  }
  return Result(AllFailed(failures));
}

Status MasterClientLink::Leave(const std::string& tvd) {
  leaving_ = true;
  Status s = AtMaster(/*fail_over=*/true, [&](MasterChannel& m) {
    return m.Leave(tvd, "operator request");
  });
  // The serving thread may be waiting for the caller's lock (it delivers
  // updates); it is told to stop here and joined in the destructor.
  stop_ = true;
  return s;
}

namespace {

// The key of a grant that answers tvd/vm (`what`: "disk key", "vTPM key").
template <typename Grant>
StatusOr<SecureBytes> KeyOf(StatusOr<Grant> grant, const char* what,
                            const std::string& tvd, const std::string& vm) {
  TVD_ASSIGN_OR_RETURN(Grant g, std::move(grant));
  if (g.tvd != tvd || g.vm != vm) {
    return ProtocolError(std::string("master sent the ") + what + " of '" +
                         g.tvd + "/" + g.vm + "' for '" + tvd + "/" + vm + "'");
  }
  return std::move(g.key);
}

}  // namespace

StatusOr<SecureBytes> MasterClientLink::RequestDiskKey(const std::string& tvd,
                                                       const std::string& vm) {
  return KeyOf(
      AtMaster(/*fail_over=*/true,
               [&](MasterChannel& m) { return m.RequestDiskKey(tvd, vm); }),
      "disk key", tvd, vm);
}

StatusOr<SecureBytes> MasterClientLink::RequestVtpmKey(const std::string& tvd,
                                                       const std::string& vm) {
  return KeyOf(
      AtMaster(/*fail_over=*/true,
               [&](MasterChannel& m) { return m.RequestVtpmKey(tvd, vm); }),
      "vTPM key", tvd, vm);
}

Status MasterClientLink::RecordVtpm(
    const std::string& tvd, const std::string& vm,
    const std::vector<std::uint8_t>& ek_public,
    const std::vector<std::uint8_t>& ak_public) {
  // Recording twice is harmless (the master replaces the binding), so a
  // master that went away after storing it may be asked again elsewhere.
  return AtMaster(/*fail_over=*/true, [&](MasterChannel& m) {
    return m.RecordVtpm(protocol::VtpmRecord{tvd, vm, ek_public, ak_public});
  });
}

Status MasterClientLink::ReportGuestQuote(
    const protocol::GuestQuoteReport& report) {
  return AtMaster(/*fail_over=*/false, [&](MasterChannel& m) {
    return m.ReportGuestQuote(report);
  });
}

Status MasterClientLink::ClaimUsage(const std::string& tvd,
                                    const policy::QuotaAmounts& held,
                                    const policy::QuotaAmounts& adds) {
  Status s = AtMaster(/*fail_over=*/false, [&](MasterChannel& m) {
    return m.ClaimUsage(protocol::UsageClaim{tvd, held, adds});
  });
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
  return AtMaster(/*fail_over=*/false,
                  [&](MasterChannel& m) { return m.ReportVm(report); });
}

}  // namespace tvd::proxy

#include "tvd/master/tvd_registry.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "tvd/master/authorization.h"
#include "tvd/master/key_wrap.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/member_view.h"
#include "tvd/policy/tvd_policy_parser.h"

namespace tvd::master {
namespace {

using channel::MessageType;
using protocol::MembershipChange;

std::string Key(const std::string& tvd, const std::string& host) {
  return tvd + "/" + host;
}

// Moves an encoded payload (it may carry key material) into SecureBytes
// and wipes the plain vector.
std::shared_ptr<const SecureBytes> Seal(std::vector<std::uint8_t>&& v) {
  auto out =
      std::make_shared<const SecureBytes>(std::span<const std::uint8_t>(v));
  OPENSSL_cleanse(v.data(), v.size());
  v.clear();
  return out;
}

StoreWrite Required(std::string what, std::function<Status(Store&)> apply) {
  return {std::move(apply), true, std::move(what)};
}

StoreWrite AuditWrite(const std::string& actor, const std::string& action,
                      const std::string& subject, bool allowed,
                      const std::string& reason, bool required) {
  return {[=](Store& s) {
            return s.Audit(actor, action, subject, allowed, reason);
          },
          required, "Audit " + action + " " + subject};
}

StoreWrite TransitionWrite(TvdTransition t) {
  std::string what = Describe(t);
  std::string tvd = t.tvd;
  auto shared = std::make_shared<TvdTransition>(std::move(t));
  StoreWrite w = Required(std::move(what),
                          [shared](Store& s) { return s.Transition(*shared); });
  w.transition_of = std::move(tvd);
  w.transition = std::move(shared);
  return w;
}

// How many of its own tokens per TVD a registry remembers: more than the
// decisions on one TVD that can wait in the journal at once.
constexpr std::size_t kOwnTokens = 4096;

std::string NewToken() {
  std::uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();  // never a guessable token
  return ToHex(std::span<const std::uint8_t>(b, sizeof b));
}

std::shared_ptr<const SecureBytes> LeavePayload(const std::string& tvd,
                                                const std::string& host,
                                                const std::string& reason) {
  return Seal(protocol::Encode(protocol::LeaveNotice{tvd, host, reason}));
}

// Sets t.member_xml and t.member_digest from t.xml and t.policy.
Status SetMemberView(TvdState& t, const std::string& source) {
  TVD_ASSIGN_OR_RETURN(t.member_xml, policy::MemberViewXml(t.xml, source));
  t.member_digest = policy::MemberViewDigest(t.policy);
  return Status::Ok();
}

}  // namespace

void Decision::Append(Decision&& other) {
  for (auto& w : other.writes) writes.push_back(std::move(w));
  for (auto& n : other.notices) notices.push_back(std::move(n));
}

Status TvdRegistry::Restore(const TvdRow& row,
                            const std::vector<std::string>& members) {
  TVD_ASSIGN_OR_RETURN(
      policy::TvdPolicy p,
      policy::ParseTvdPolicy(row.policy_xml, "state db TVD " + row.name));
  TvdState t;
  TVD_ASSIGN_OR_RETURN(t.requirements, RequirementsFor(p));
  t.authorized = AuthorizedHostNames(p);
  t.policy = std::move(p);
  t.xml = row.policy_xml;
  t.digest = policy::CanonicalDigest(t.policy);
  TVD_RETURN_IF_ERROR(SetMemberView(t, "state db TVD " + row.name));
  t.epoch = row.epoch;
  t.token = row.token;
  if (!kek_.empty() && !row.key_wrapped.empty()) {
    TVD_ASSIGN_OR_RETURN(
        t.key, UnwrapTvdKey(kek_, row.name, row.epoch, row.key_wrapped));
  }
  t.members.insert(members.begin(), members.end());
  tvds_[row.name] = std::move(t);
  return Status::Ok();
}

void TvdRegistry::Clear() {
  tvds_.clear();
  underlay_.clear();
  quotas_ = TotalQuotaLedger();
}

bool TvdRegistry::HasKey(const std::string& tvd) const {
  auto it = tvds_.find(tvd);
  return it != tvds_.end() && !it->second.key.empty();
}

TvdRow TvdRegistry::NextRow(TvdState& t) {
  const std::string& name = t.policy.name;
  t.token = NewToken();
  auto& own = own_tokens_[name];
  own.push_back(t.token);
  if (own.size() > kOwnTokens) own.pop_front();
  TvdRow row{name, t.xml, ToHex(t.digest), t.epoch, t.token, {}};
  if (!kek_.empty() && !t.key.empty()) {
    row.key_wrapped = WrapTvdKey(kek_, name, t.epoch, t.key);
  }
  return row;
}

bool TvdRegistry::IsOwnToken(const std::string& tvd,
                             const std::string& token) const {
  auto it = own_tokens_.find(tvd);
  if (it == own_tokens_.end()) return false;
  return std::find(it->second.rbegin(), it->second.rend(), token) !=
         it->second.rend();
}

void TvdRegistry::RestoreHost(const std::string& host,
                              const std::string& underlay) {
  SetUnderlay(host, underlay);
}

void TvdRegistry::SetUnderlay(const std::string& host,
                              const std::string& underlay) {
  auto [it, fresh] = underlay_.try_emplace(host, underlay);
  if (!fresh) {
    if (it->second == underlay) return;
    it->second = underlay;
  }
  // A host is a member of a few TVDs at most; there are few TVDs.
  for (auto& [name, t] : tvds_) {
    if (t.members.count(host)) RosterPut(t, host);
  }
}

const std::vector<protocol::Member>& TvdRegistry::Roster(TvdState& t) const {
  if (!t.roster_valid) {
    t.roster = MembersOf(t);
    t.roster_valid = true;
  }
  return t.roster;
}

namespace {
std::vector<protocol::Member>::iterator RosterFind(
    std::vector<protocol::Member>& roster, const std::string& host) {
  return std::lower_bound(roster.begin(), roster.end(), host,
                          [](const protocol::Member& m, const std::string& h) {
                            return m.host < h;
                          });
}
}  // namespace

void TvdRegistry::RosterPut(TvdState& t, const std::string& host) const {
  if (!t.roster_valid) return;  // rebuilt when next asked for
  auto u = underlay_.find(host);
  std::string underlay = u == underlay_.end() ? "" : u->second;
  auto it = RosterFind(t.roster, host);
  if (it != t.roster.end() && it->host == host) {
    it->underlay = std::move(underlay);
  } else {
    t.roster.insert(it, protocol::Member{host, std::move(underlay)});
  }
}

void TvdRegistry::RosterErase(TvdState& t, const std::string& host) const {
  if (!t.roster_valid) return;
  auto it = RosterFind(t.roster, host);
  if (it != t.roster.end() && it->host == host) t.roster.erase(it);
}

StatusOr<Decision> TvdRegistry::LoadFile(const std::string& source,
                                         std::string xml) {
  TVD_ASSIGN_OR_RETURN(policy::TvdPolicy p,
                       policy::ParseTvdPolicy(xml, source));
  Sha256Digest digest = policy::CanonicalDigest(p);
  Decision d;
  auto it = tvds_.find(p.name);
  if (it != tvds_.end() && it->second.digest == digest) {
    it->second.from_file = true;
    return d;
  }
  auto requirements = RequirementsFor(p);
  if (!requirements.ok()) return requirements.status().WithContext(source);
  TvdState t;
  t.requirements = std::move(requirements).value();
  t.authorized = AuthorizedHostNames(p);
  TvdTransition tr;
  tr.tvd = p.name;
  if (it != tvds_.end()) {
    t.epoch = it->second.epoch;
    t.key = it->second.key.Clone();
    t.members = it->second.members;
    t.joining = it->second.joining;
    tr.expect_token = it->second.token;
  } else {
    tr.create = true;
  }
  t.policy = std::move(p);
  t.xml = std::move(xml);
  t.digest = digest;
  TVD_RETURN_IF_ERROR(SetMemberView(t, source));
  t.from_file = true;
  std::string name = t.policy.name;
  tr.row = NextRow(t);
  d.writes.push_back(TransitionWrite(std::move(tr)));
  d.writes.push_back(AuditWrite("master",
                                it == tvds_.end() ? "tvd-add" : "tvd-update",
                                name, true, "loaded from " + source, false));
  tvds_[name] = std::move(t);
  return d;
}

Decision TvdRegistry::RekeyAll() {
  Decision d;
  for (auto& [name, t] : tvds_) d.Append(std::move(Rekey(name)).value());
  return d;
}

StatusOr<Decision> TvdRegistry::Rekey(const std::string& tvd) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  TvdState& t = it->second;
  TvdTransition tr;
  tr.tvd = tvd;
  tr.expect_token = t.token;
  t.epoch += 1;
  t.key = SecureBytes::Random(protocol::kTvdKeySize);
  tr.row = NextRow(t);
  Decision d;
  d.writes.push_back(TransitionWrite(std::move(tr)));
  return d;
}

StatusOr<attest::TcbRequirements> TvdRegistry::CheckJoin(
    const std::string& tvd, const pki::Identity& peer) const {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  // The set answers for an authorized host; AuthorizeHost gives the
  // refusal its exact words (the set holds exactly the names it admits).
  if (peer.role != pki::Role::kHost || !it->second.authorized.count(peer.name))
    TVD_RETURN_IF_ERROR(AuthorizeHost(it->second.policy, peer));
  TVD_RETURN_IF_ERROR(CheckRoom(tvd, it->second, peer.name));
  return it->second.requirements;
}

Status TvdRegistry::CheckRoom(const std::string& tvd, const TvdState& t,
                              const std::string& host) const {
  if (t.members.size() < max_members_ || t.members.count(host) > 0) {
    return Status::Ok();
  }
  return ResourceExhausted("TVD " + tvd + " has " +
                           std::to_string(t.members.size()) +
                           " members, the most a TVD may have");
}

std::vector<protocol::Member> TvdRegistry::MembersOf(const TvdState& t) const {
  std::vector<protocol::Member> out;
  for (const std::string& host : t.members) {
    auto u = underlay_.find(host);
    out.push_back({host, u == underlay_.end() ? "" : u->second});
  }
  return out;
}

StatusOr<JoinOutcome> TvdRegistry::Join(const std::string& tvd,
                                        const std::string& host,
                                        const std::string& underlay,
                                        const std::string& actor,
                                        bool announce) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  TvdState& t = it->second;
  TVD_RETURN_IF_ERROR(CheckRoom(tvd, t, host));
  bool was_member = t.members.count(host) > 0;
  auto known = underlay_.find(host);
  bool moved = known == underlay_.end() || known->second != underlay;
  t.members.insert(host);
  if (!was_member) {
    RosterPut(t, host);
    t.joining.insert(host);
  }
  SetUnderlay(host, underlay);

  JoinOutcome out;
  Decision& d = out.decision;
  d.writes.push_back(Required(
      "UpsertHost " + host + " " + underlay,
      [host, underlay](Store& s) { return s.UpsertHost(host, underlay); }));
  // A join keeps the row (and so commutes with joins on other masters),
  // but only while the row is the one whose key the grant carries.
  TvdTransition tr;
  tr.tvd = tvd;
  tr.expect_token = t.token;
  tr.add_members = {host};
  d.writes.push_back(TransitionWrite(std::move(tr)));
  d.writes.push_back(AuditWrite(actor, "join", Key(tvd, host), true,
                                was_member ? "rejoined" : "joined", true));
  protocol::JoinGrant grant;  // its members: the roster, encoded in place
  grant.tvd = tvd;
  grant.policy_xml = t.member_xml;
  grant.policy_digest = t.member_digest;
  grant.epoch = t.epoch;
  grant.key = t.key.Clone();
  grant.attestation_interval_seconds =
      t.policy.host_requirements.attestation_interval_seconds;
  out.grant = SecureBytes::Adopt(protocol::Encode(grant, Roster(t)));
  if (!was_member || moved || announce) {
    protocol::MembershipUpdate update;
    update.tvd = tvd;
    update.epoch = t.epoch;
    update.changes = {{MembershipChange::kJoined, {host, underlay}}};
    update.member_count = static_cast<std::uint32_t>(t.members.size());
    auto payload = Seal(protocol::Encode(update));
    if (t.members.size() > 1) {
      d.notices.push_back(
          {tvd, host, MessageType::kMembershipUpdate, payload, false, true});
    }
  }
  return out;
}

bool TvdRegistry::IsMember(const std::string& tvd,
                           const std::string& host) const {
  auto it = tvds_.find(tvd);
  return it != tvds_.end() && it->second.members.count(host) > 0;
}

const TvdState* TvdRegistry::Find(const std::string& tvd) const {
  auto it = tvds_.find(tvd);
  return it == tvds_.end() ? nullptr : &it->second;
}

StatusOr<Decision> TvdRegistry::Leave(const std::string& tvd,
                                      const pki::Identity& peer,
                                      const std::string& named_host,
                                      const std::string& reason) {
  if (named_host != peer.name) {
    return PermissionDenied("LeaveNotice names host " + named_host +
                            " but the certificate is " + peer.ToString());
  }
  if (!tvds_.count(tvd)) return NotFound("no TVD named " + tvd);
  if (!IsMember(tvd, peer.name)) {
    return NotFound("host " + peer.name + " is not a member of TVD " + tvd);
  }
  return RemoveMember(tvd, peer.name, MembershipChange::kLeft,
                      "left: " + reason);
}

StatusOr<Decision> TvdRegistry::RemoveMember(const std::string& tvd,
                                             const std::string& host,
                                             MembershipChange change,
                                             const std::string& reason) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  TvdState& t = it->second;
  t.members.erase(host);
  t.joining.erase(host);
  RosterErase(t, host);
  quotas_.DropHost(tvd, host);
  // The member goes and the key changes in one transition: no master can
  // hand out the old key after the member is gone.
  TvdTransition tr;
  tr.tvd = tvd;
  tr.expect_token = t.token;
  tr.remove_members = {host};
  tr.departure = Departure{change == MembershipChange::kLeft, reason};
  t.epoch += 1;
  t.key = SecureBytes::Random(protocol::kTvdKeySize);
  tr.row = NextRow(t);
  Decision d;
  d.writes.push_back(TransitionWrite(std::move(tr)));
  d.writes.push_back(
      AuditWrite("master", std::string(protocol::MembershipChangeName(change)),
                 Key(tvd, host), true, reason, false));
  protocol::MembershipUpdate update;
  update.tvd = tvd;
  update.epoch = t.epoch;
  update.changes = {{change, {host, ""}}};
  update.member_count = static_cast<std::uint32_t>(t.members.size());
  update.key = t.key.Clone();
  auto payload = Seal(protocol::Encode(update));
  // Never to `host`: the new key is for the members that remain.
  if (!t.members.empty()) {
    d.notices.push_back(
        {tvd, host, MessageType::kMembershipUpdate, payload, false, true});
  }
  d.notices.push_back({tvd, host, MessageType::kLeaveNotice,
                       LeavePayload(tvd, host, reason), true});
  return d;
}

Decision TvdRegistry::Evict(const std::string& host,
                            const std::string& reason) {
  Decision d;
  for (auto& [name, t] : tvds_) {
    if (!t.members.count(host)) continue;
    // The TVD exists: RemoveMember cannot fail here.
    d.Append(std::move(RemoveMember(name, host, MembershipChange::kEvicted,
                                    "evicted: " + reason))
                 .value());
  }
  return d;
}

Status TvdRegistry::CheckMemberRequest(const std::string& host,
                                       const std::string& tvd,
                                       const std::string& vm, bool disk_key,
                                       bool attested_channel) const {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  if (!attested_channel || !it->second.members.count(host)) {
    return PermissionDenied("host " + host +
                            " has no attested member channel for TVD " + tvd);
  }
  if (!it->second.policy.FindVm(vm)) {
    return PermissionDenied("VM " + vm + " is not in the policy of TVD " + tvd);
  }
  if (disk_key && !it->second.policy.ReleasesDiskKeyTo(vm)) {
    return PermissionDenied("the policy of TVD " + tvd +
                            " releases no disk key to VM " + vm);
  }
  return Status::Ok();
}

Status TvdRegistry::CheckVtpmRequest(const std::string& host,
                                     const std::string& tvd,
                                     const std::string& vm,
                                     bool attested_channel) const {
  TVD_RETURN_IF_ERROR(
      CheckMemberRequest(host, tvd, vm, false, attested_channel));
  if (!tvds_.at(tvd).policy.GrantsVtpmTo(vm)) {
    return PermissionDenied("the policy of TVD " + tvd + " gives VM " + vm +
                            " no vTPM");
  }
  return Status::Ok();
}

void TvdRegistry::RestoreUsage(const QuotaUsageRow& row) {
  quotas_.Set(row.tvd, row.host, row.amounts);
}

StatusOr<Decision> TvdRegistry::ClaimUsage(const std::string& tvd,
                                           const std::string& host,
                                           const policy::QuotaAmounts& held,
                                           const policy::QuotaAmounts& adds,
                                           bool attested_channel) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  // Only an attested member counts: the figure is dropped with the
  // membership, and a host outside the TVD has nothing to claim.
  if (!attested_channel || !it->second.members.count(host)) {
    return PermissionDenied("host " + host +
                            " has no attested member channel for TVD " + tvd);
  }
  Decision d;
  const policy::QuotaLimits& total = it->second.policy.total_quota;
  if (total.empty()) return d;
  TVD_RETURN_IF_ERROR(quotas_.Claim(tvd, host, total, held, adds));
  QuotaUsageRow row{tvd, host, *quotas_.Of(tvd, host)};
  StoreWrite w = Required("PutQuotaUsage " + tvd + " " + host,
                          [row](Store& s) { return s.PutQuotaUsage(row); });
  w.isolated = true;
  d.writes.push_back(std::move(w));
  return d;
}

StatusOr<AdminOutcome> TvdRegistry::AddTvd(policy::TvdPolicy p, std::string xml,
                                           const std::string& actor) {
  TVD_ASSIGN_OR_RETURN(attest::TcbRequirements req, RequirementsFor(p));
  if (tvds_.count(p.name)) {
    return AlreadyExists("TVD " + p.name + " already exists");
  }
  for (const auto& [name, t] : tvds_) {
    if (t.policy.id == p.id) {
      return AlreadyExists("TVD id " + std::to_string(p.id) +
                           " is already used by TVD " + name);
    }
  }
  TvdState t;
  t.digest = policy::CanonicalDigest(p);
  t.authorized = AuthorizedHostNames(p);
  t.policy = std::move(p);
  t.xml = std::move(xml);
  TVD_RETURN_IF_ERROR(SetMemberView(t, "TVD " + t.policy.name));
  t.requirements = std::move(req);
  t.epoch = 1;
  t.key = SecureBytes::Random(protocol::kTvdKeySize);
  std::string name = t.policy.name;
  AdminOutcome out;
  TvdTransition tr;
  tr.tvd = name;
  tr.create = true;
  tr.row = NextRow(t);
  out.decision.writes.push_back(TransitionWrite(std::move(tr)));
  std::string digest = ToHex(t.digest);
  std::string member_digest = ToHex(t.member_digest);
  tvds_[name] = std::move(t);
  out.decision.writes.push_back(
      AuditWrite(actor, "tvd-add", name, true, "", false));
  out.reply_json = nlohmann::json{
      {"added", name},
      {"digest", digest},
      {"member_digest",
       member_digest}}.dump();
  return out;
}

StatusOr<AdminOutcome> TvdRegistry::UpdateTvd(policy::TvdPolicy p,
                                              std::string xml,
                                              const std::string& actor) {
  TVD_ASSIGN_OR_RETURN(attest::TcbRequirements req, RequirementsFor(p));
  auto it = tvds_.find(p.name);
  if (it == tvds_.end()) return NotFound("no TVD named " + p.name);
  if (it->second.from_file) {
    return FailedPrecondition(
        "TVD " + p.name +
        " comes from the policy directory; edit its file instead");
  }
  for (const auto& [name, t] : tvds_) {
    if (name != p.name && t.policy.id == p.id) {
      return AlreadyExists("TVD id " + std::to_string(p.id) +
                           " is already used by TVD " + name);
    }
  }
  // The member view first: an error leaves the TVD as it was.
  TVD_ASSIGN_OR_RETURN(std::string member_xml,
                       policy::MemberViewXml(xml, "TVD " + p.name));
  const Sha256Digest member_digest = policy::MemberViewDigest(p);
  TvdState& current = it->second;
  // A change of the authorized hosts alone changes nothing members enforce.
  const bool members_see_change = member_digest != current.member_digest;
  TvdTransition tr;
  tr.tvd = p.name;
  tr.expect_token = current.token;
  current.member_xml = std::move(member_xml);
  current.member_digest = member_digest;
  current.digest = policy::CanonicalDigest(p);
  current.authorized = AuthorizedHostNames(p);
  current.policy = std::move(p);
  current.xml = std::move(xml);
  current.requirements = std::move(req);
  const std::string name = current.policy.name;
  AdminOutcome out;
  Decision& d = out.decision;
  tr.row = NextRow(current);
  d.writes.push_back(TransitionWrite(std::move(tr)));
  d.writes.push_back(AuditWrite(actor, "tvd-update", name, true, "", false));
  if (members_see_change && !current.members.empty()) {
    auto payload = Seal(protocol::Encode(protocol::PolicyUpdate{
        name, current.member_xml, current.member_digest}));
    d.notices.push_back(
        {name, "", MessageType::kPolicyUpdate, payload, false, true});
  }
  // Members the new policy no longer authorizes are evicted.
  // (One pass over the subjects, not one per member: a TVD of N members
  // authorizes about N subjects.)
  const std::set<std::string>& authorized = current.authorized;
  std::vector<std::string> unauthorized;
  for (const std::string& m : current.members) {
    if (!authorized.count(m)) unauthorized.push_back(m);
  }
  for (const std::string& m : unauthorized) {
    TVD_ASSIGN_OR_RETURN(
        Decision removal,
        RemoveMember(name, m, MembershipChange::kEvicted,
                     "no longer authorized by the policy of TVD " + name));
    d.Append(std::move(removal));
  }
  out.reply_json =
      nlohmann::json{{"updated", name},
                     {"digest", ToHex(current.digest)},
                     {"member_digest", ToHex(current.member_digest)}}
          .dump();
  return out;
}

StatusOr<AdminOutcome> TvdRegistry::RemoveTvd(const std::string& name,
                                              const std::string& actor) {
  auto it = tvds_.find(name);
  if (it == tvds_.end()) return NotFound("no TVD named " + name);
  if (it->second.from_file) {
    return FailedPrecondition(
        "TVD " + name +
        " comes from the policy directory; remove its file instead");
  }
  AdminOutcome out;
  TvdTransition tr;
  tr.tvd = name;
  tr.expect_token = it->second.token;
  tr.remove_tvd = true;
  out.decision.writes.push_back(TransitionWrite(std::move(tr)));
  out.decision.writes.push_back(
      AuditWrite(actor, "tvd-remove", name, true, "", false));
  for (const std::string& m : it->second.members) {
    out.decision.notices.push_back(
        {name, m, MessageType::kLeaveNotice,
         LeavePayload(name, m, "TVD removed by " + actor), true});
  }
  tvds_.erase(it);
  quotas_.DropTvd(name);
  out.reply_json = nlohmann::json{{"removed", name}}.dump();
  return out;
}

StatusOr<Decision> TvdRegistry::ApplyStored(
    const std::string& tvd, const std::optional<TvdRow>& row,
    const std::vector<std::string>& members, bool force,
    const std::map<std::string, Departure>& departures) {
  auto it = tvds_.find(tvd);
  Decision d;
  if (!row) {
    if (it == tvds_.end()) return d;
    for (const std::string& m : it->second.members) {
      d.notices.push_back(
          {tvd, m, MessageType::kLeaveNotice,
           LeavePayload(tvd, m, "TVD removed on another master"), true});
    }
    tvds_.erase(it);
    quotas_.DropTvd(tvd);
    return d;
  }
  if (!force && it != tvds_.end() &&
      (IsOwnToken(tvd, row->token) || row->token == it->second.token)) {
    // Its own row, or the row this registry holds: at most joins another
    // master added meanwhile (a join keeps the row). A member missing from
    // the store under the same token is a join of this master not yet
    // committed, never a removal (a removal always changes the token).
    return ApplyStoredJoins(tvd, row->token, members);
  }
  TVD_ASSIGN_OR_RETURN(
      policy::TvdPolicy p,
      policy::ParseTvdPolicy(row->policy_xml, "stored TVD " + tvd));
  TvdState n;
  TVD_ASSIGN_OR_RETURN(n.requirements, RequirementsFor(p));
  n.authorized = AuthorizedHostNames(p);
  n.policy = std::move(p);
  n.xml = row->policy_xml;
  n.digest = policy::CanonicalDigest(n.policy);
  TVD_RETURN_IF_ERROR(SetMemberView(n, "stored TVD " + tvd));
  n.epoch = row->epoch;
  n.token = row->token;
  n.members.insert(members.begin(), members.end());
  if (!kek_.empty() && !row->key_wrapped.empty()) {
    TVD_ASSIGN_OR_RETURN(n.key,
                         UnwrapTvdKey(kek_, tvd, row->epoch, row->key_wrapped));
  } else if (it != tvds_.end() && it->second.epoch == row->epoch) {
    n.key = it->second.key.Clone();
  }
  if (it == tvds_.end()) {
    tvds_[tvd] = std::move(n);
    return d;
  }
  TvdState& old = it->second;
  n.from_file = old.from_file;
  std::vector<protocol::MemberChange> changes;
  std::vector<std::string> stayed;
  for (const std::string& m : old.members) {
    if (n.members.count(m)) {
      stayed.push_back(m);
      continue;
    }
    quotas_.DropHost(tvd, m);
    auto why = departures.find(m);
    // A join of this master's that never reached the store: its notice
    // never left (its transition failed), so no member knows the host.
    if (why == departures.end() && old.joining.count(m)) continue;
    const bool left = why != departures.end() && why->second.left;
    changes.push_back(
        {left ? MembershipChange::kLeft : MembershipChange::kEvicted, {m, ""}});
    d.notices.push_back(
        {tvd, m, MessageType::kLeaveNotice,
         LeavePayload(tvd, m,
                      why != departures.end()
                          ? why->second.reason
                          : "removed from TVD " + tvd + " on another master"),
         true});
  }
  for (const std::string& m : n.members) {
    if (old.members.count(m)) continue;
    auto u = underlay_.find(m);
    changes.push_back({MembershipChange::kJoined,
                       {m, u == underlay_.end() ? "" : u->second}});
  }
  if (n.member_digest != old.member_digest) {
    auto payload = Seal(protocol::Encode(
        protocol::PolicyUpdate{tvd, n.member_xml, n.member_digest}));
    // The members that left heard their LeaveNotice above.
    if (!stayed.empty()) {
      d.notices.push_back(
          {tvd, "", MessageType::kPolicyUpdate, payload, false, true});
    }
  }
  if (n.epoch != old.epoch || !changes.empty()) {
    protocol::MembershipUpdate update;
    update.tvd = tvd;
    update.epoch = n.epoch;
    update.changes = std::move(changes);
    update.member_count = static_cast<std::uint32_t>(n.members.size());
    if (n.epoch != old.epoch) update.key = n.key.Clone();
    auto payload = Seal(protocol::Encode(update));
    if (!stayed.empty()) {
      d.notices.push_back(
          {tvd, "", MessageType::kMembershipUpdate, payload, false, true});
    }
  }
  old = std::move(n);
  return d;
}

Decision TvdRegistry::ApplyStoredJoins(const std::string& tvd,
                                       const std::string& token,
                                       const std::vector<std::string>& hosts) {
  Decision d;
  auto it = tvds_.find(tvd);
  if (it == tvds_.end() || it->second.token != token) return d;
  TvdState& t = it->second;
  std::vector<protocol::MemberChange> changes;
  const bool anyone_told = !t.members.empty();
  for (const std::string& h : hosts) {
    if (!t.joining.empty()) t.joining.erase(h);
    if (!t.members.insert(h).second) continue;
    RosterPut(t, h);
    auto u = underlay_.find(h);
    changes.push_back({MembershipChange::kJoined,
                       {h, u == underlay_.end() ? "" : u->second}});
  }
  if (changes.empty()) return d;
  protocol::MembershipUpdate update;
  update.tvd = tvd;
  update.epoch = t.epoch;
  update.changes = std::move(changes);
  update.member_count = static_cast<std::uint32_t>(t.members.size());
  auto payload = Seal(protocol::Encode(update));
  // To the members before these joins (the new ones have no channel here;
  // one that joins here later gets them in its grant).
  if (anyone_told) {
    d.notices.push_back(
        {tvd, "", MessageType::kMembershipUpdate, payload, false, true});
  }
  return d;
}

}  // namespace tvd::master

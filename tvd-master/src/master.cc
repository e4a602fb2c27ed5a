#include "tvd/master/master.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tvd/attest/messages.h"
#include "tvd/channel/channel_client.h"
#include "tvd/log.h"
#include "tvd/master/authorization.h"
#include "tvd/master/key_wrap.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/tvd_policy_parser.h"

namespace tvd::master {
namespace {

using channel::Connection;
using channel::Frame;
using channel::MessageType;
using protocol::MembershipChange;

// Copies an encoded payload that carries key material into SecureBytes and
// wipes the plain vector, so no key is left behind in freed heap memory.
SecureBytes Seal(std::vector<std::uint8_t>&& v) {
  SecureBytes out{std::span<const std::uint8_t>(v)};
  OPENSSL_cleanse(v.data(), v.size());
  v.clear();
  return out;
}

std::string Key(const std::string& tvd, const std::string& host) {
  return tvd + "/" + host;
}

}  // namespace

StatusOr<std::multimap<std::string, Sha256Digest>> LoadEkAllowlist(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("EK allowlist " + path + " cannot be read");
  std::multimap<std::string, Sha256Digest> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream fields(line);
    std::string host, hex, extra;
    fields >> host;
    if (host.empty() || host[0] == '#') continue;
    fields >> hex >> extra;
    auto d = Sha256FromHex(hex);
    if (!pki::IsValidName(host) || !d.ok() || !extra.empty()) {
      return InvalidArgument(path + ":" + std::to_string(number) +
                             ": expected '<host> <sha256 hex of EK public>'");
    }
    out.emplace(host, *d);
  }
  return out;
}

StatusOr<std::unique_ptr<Master>> Master::Start(MasterOptions options) {
  channel::IgnoreSigpipeOnce();
  if (options.kek.size() != kKekSize) {
    return InvalidArgument("master KEK must be 32 bytes");
  }
  std::unique_ptr<Master> m(new Master(std::move(options)));
  TVD_ASSIGN_OR_RETURN(m->store_, StateStore::Open(m->options_.state_db));
  TVD_RETURN_IF_ERROR(m->Load());
  TVD_ASSIGN_OR_RETURN(auto tls,
                       channel::TlsContext::Create(channel::TlsSide::kServer,
                                                   m->options_.credentials));
  Master* self = m.get();
  TVD_ASSIGN_OR_RETURN(
      m->server_,
      channel::ChannelServer::Start(
          m->options_.server,
          std::shared_ptr<const channel::TlsContext>(std::move(tls)),
          [self](Connection& conn) { return self->Handle(conn); },
          [](const channel::ConnectionReport& r) {
            if (!r.status.ok()) {
              log::Info("connection from ", r.peer_address,
                        r.peer ? " (" + r.peer->ToString() + ")" : "",
                        " ended: ", r.status.ToString());
            }
          }));
  return m;
}

Master::~Master() { Stop(); }

void Master::Stop() {
  stop_ = true;
  if (server_) server_->Stop();
}

void Master::AuditBestEffort(const std::string& actor,
                             const std::string& action,
                             const std::string& subject, bool allowed,
                             const std::string& reason) {
  Status s = store_->Audit(actor, action, subject, allowed, reason);
  if (!s.ok()) log::Error("audit row lost: ", s.ToString());
}

Status Master::Load() {
  for (const auto& [host, digest] : options_.trusted_eks) {
    enroller_.TrustEk({pki::Role::kHost, host}, digest);
  }
  TVD_ASSIGN_OR_RETURN(auto aks, store_->ListAks());
  for (const auto& [host, ak] : aks) {
    TVD_RETURN_IF_ERROR(aks_.Add({pki::Role::kHost, host}, ak)
                            .WithContext("stored AK of " + host));
  }
  // The TPM clock history outlives the process: without it, a TPM reset
  // or a clock set back would go unnoticed across a master restart.
  TVD_ASSIGN_OR_RETURN(std::vector<AkClockRow> clocks, store_->ListAkClocks());
  for (const AkClockRow& c : clocks) {
    aks_.RestoreClock(c.ak_name, {c.clock, c.reset_count, c.restart_count});
  }
  // Written from the verifying thread, without mutex_: one small UPSERT
  // that only moves forward, so concurrent quotes cannot move it back.
  StateStore* store = store_.get();
  aks_.SetClockSink([store](std::span<const std::uint8_t> name,
                            const attest::TpmClockState& state) {
    return store->PutAkClock({{name.begin(), name.end()},
                              state.clock,
                              state.reset_count,
                              state.restart_count});
  });
  TVD_ASSIGN_OR_RETURN(std::vector<TvdRow> rows, store_->ListTvds());
  std::lock_guard lock(mutex_);
  for (TvdRow& row : rows) {
    TVD_ASSIGN_OR_RETURN(
        policy::TvdPolicy p,
        policy::ParseTvdPolicy(row.policy_xml, "state db TVD " + row.name));
    Tvd t;
    TVD_ASSIGN_OR_RETURN(t.requirements, RequirementsFor(p));
    t.policy = std::move(p);
    t.xml = std::move(row.policy_xml);
    t.digest = policy::CanonicalDigest(t.policy);
    t.epoch = row.epoch;
    tvds_[row.name] = std::move(t);
  }
  // What each host's relay last claimed: a restarted master keeps counting
  // the domains that kept running meanwhile.
  TVD_ASSIGN_OR_RETURN(std::vector<QuotaUsageRow> usage,
                       store_->ListQuotaUsage());
  for (const QuotaUsageRow& u : usage) quotas_.Set(u.tvd, u.host, u.amounts);
  if (!options_.policy_dir.empty()) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(options_.policy_dir, ec)) {
      if (entry.path().extension() == ".xml") files.push_back(entry.path());
    }
    if (ec) {
      return IoError("policy dir " + options_.policy_dir + ": " + ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string xml = buffer.str();
      TVD_ASSIGN_OR_RETURN(policy::TvdPolicy p,
                           policy::ParseTvdPolicy(xml, path.string()));
      Sha256Digest digest = policy::CanonicalDigest(p);
      auto it = tvds_.find(p.name);
      if (it != tvds_.end() && it->second.digest == digest) {
        it->second.from_file = true;
        continue;
      }
      Tvd t;
      auto requirements = RequirementsFor(p);
      if (!requirements.ok()) {
        return requirements.status().WithContext(path.string());
      }
      t.requirements = std::move(requirements).value();
      t.epoch = it == tvds_.end() ? 0 : it->second.epoch;
      t.policy = std::move(p);
      t.xml = std::move(xml);
      t.digest = digest;
      t.from_file = true;
      std::string name = t.policy.name;
      TVD_RETURN_IF_ERROR(
          store_->PutTvd({name, t.xml, ToHex(t.digest), t.epoch}));
      AuditBestEffort("master", it == tvds_.end() ? "tvd-add" : "tvd-update",
                      name, true, "loaded from " + path.string());
      tvds_[name] = std::move(t);
    }
  }
  // Keys were memory only: every TVD starts a new epoch now.
  for (auto& [name, t] : tvds_) TVD_RETURN_IF_ERROR(RekeyLocked(t));
  return Status::Ok();
}

Status Master::RekeyLocked(Tvd& t) {
  std::uint64_t next = t.epoch + 1;
  TVD_RETURN_IF_ERROR(store_->SetEpoch(t.policy.name, next));
  t.epoch = next;
  t.key = SecureBytes::Random(protocol::kTvdKeySize);
  return Status::Ok();
}

StatusOr<std::vector<protocol::Member>> Master::MembersLocked(
    const std::string& tvd) {
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->Members(tvd));
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, store_->ListHosts());
  std::map<std::string, std::string> underlay;
  for (const HostRow& h : hosts) underlay[h.name] = h.underlay;
  std::vector<protocol::Member> out;
  for (const std::string& n : names) out.push_back({n, underlay[n]});
  return out;
}

void Master::BroadcastLocked(const std::string& tvd, MessageType type,
                             const std::vector<std::uint8_t>& payload,
                             const std::string& except) {
  for (auto& [key, session] : live_) {
    if (key.first != tvd || key.second == except) continue;
    std::lock_guard slock(session->mutex);
    session->outbox.emplace_back(type, SecureBytes{std::span(payload)});
  }
}

Status Master::RemoveMemberLocked(const std::string& tvd,
                                  const std::string& host,
                                  MembershipChange change,
                                  const std::string& reason) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  TVD_RETURN_IF_ERROR(store_->RemoveMember(tvd, host));
  quotas_.DropHost(tvd, host);
  AuditBestEffort("master", std::string(protocol::MembershipChangeName(change)),
                  Key(tvd, host), true, reason);
  TVD_RETURN_IF_ERROR(RekeyLocked(it->second));
  TVD_ASSIGN_OR_RETURN(auto members, MembersLocked(tvd));
  protocol::MembershipUpdate update;
  update.tvd = tvd;
  update.epoch = it->second.epoch;
  update.change = change;
  update.host = host;
  update.members = std::move(members);
  update.key = it->second.key.Clone();
  std::vector<std::uint8_t> payload = protocol::Encode(update);
  BroadcastLocked(tvd, MessageType::kMembershipUpdate, payload, host);
  OPENSSL_cleanse(payload.data(), payload.size());
  auto live = live_.find({tvd, host});
  if (live != live_.end()) {
    std::lock_guard slock(live->second->mutex);
    live->second->outbox.emplace_back(
        MessageType::kLeaveNotice,
        Seal(protocol::Encode(protocol::LeaveNotice{tvd, host, reason})));
    live->second->end = true;
    live_.erase(live);
  }
  return Status::Ok();
}

void Master::Evict(const std::string& host, const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& [name, t] : tvds_) {
    auto members = store_->Members(name);
    if (!members.ok()) {
      log::Error("eviction of ", host, ": ", members.status().ToString());
      continue;
    }
    if (std::find(members->begin(), members->end(), host) == members->end())
      continue;
    Status s = RemoveMemberLocked(name, host, MembershipChange::kEvicted,
                                  "evicted: " + reason);
    if (!s.ok()) {
      log::Error("eviction of ", host, " from ", name, ": ", s.ToString());
    }
  }
}

Status Master::Handle(Connection& conn) {
  TVD_ASSIGN_OR_RETURN(Frame first, conn.ReadFrame(options_.timeouts.read));
  switch (first.type) {
    case MessageType::kJoinRequest:
      return HandleJoin(conn, first);
    case MessageType::kDiskKeyRequest:
    case MessageType::kVmReport:
    case MessageType::kLeaveNotice:
      return HandleHostRequest(conn, first);
    case MessageType::kUsageClaim:
      return HandleUsageClaim(conn, first);
    case MessageType::kTvdAdd:
    case MessageType::kTvdUpdate:
    case MessageType::kTvdRemove:
    case MessageType::kAdminQuery:
      return HandleAdmin(conn, std::move(first));
    case MessageType::kError:
      return channel::DecodeErrorPayload(first.payload).WithContext("peer");
    default:
      return ProtocolError("unexpected first message type " +
                           std::to_string(static_cast<int>(first.type)));
  }
}

Status Master::Admit(Connection& conn, const attest::TcbRequirements& req) {
  const auto& t = options_.timeouts;
  TVD_ASSIGN_OR_RETURN(Frame frame, conn.ReadFrame(t.read));
  if (frame.type == MessageType::kEnrolRequest) {
    TVD_ASSIGN_OR_RETURN(attest::EnrolRequest request,
                         attest::DecodeEnrolRequest(frame.payload));
    TVD_ASSIGN_OR_RETURN(auto begun, enroller_.Begin(conn.peer(), request));
    std::vector<std::uint8_t> ak = begun.second.ak_public;
    TVD_RETURN_IF_ERROR(conn.WriteFrame(MessageType::kEnrolChallenge,
                                        attest::Encode(begun.first), t.write));
    TVD_ASSIGN_OR_RETURN(Frame proof_frame,
                         conn.ReadExpected(MessageType::kEnrolProof, t.read));
    TVD_ASSIGN_OR_RETURN(attest::EnrolProof proof,
                         attest::DecodeEnrolProof(proof_frame.payload));
    TVD_RETURN_IF_ERROR(enroller_.Finish(std::move(begun.second), proof));
    TVD_RETURN_IF_ERROR(store_->AddAk(conn.peer().name, ak));
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
  attest::MasterAttestation attestation(enroller_, verifier_, nonces_, t);
  return attestation.AttestOnce(conn, req);
}

Status Master::HandleJoin(Connection& conn, const Frame& first) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  TVD_ASSIGN_OR_RETURN(protocol::JoinRequest request,
                       protocol::DecodeJoinRequest(first.payload));
  const std::string subject = Key(request.tvd, peer.name);
  attest::TcbRequirements req;
  {
    std::lock_guard lock(mutex_);
    auto it = tvds_.find(request.tvd);
    Status s = it == tvds_.end() ? NotFound("no TVD named " + request.tvd)
                                 : AuthorizeHost(it->second.policy, peer);
    if (!s.ok()) {
      AuditBestEffort(actor, "join", subject, false, s.message());
      return s;
    }
    req = it->second.requirements;
  }
  Status attested = Admit(conn, req);
  if (!attested.ok()) {
    TVD_RETURN_IF_ERROR(
        store_->SetAttestation(peer.name, false, attested.message()));
    AuditBestEffort(actor, "join", subject, false,
                    "attestation: " + attested.message());
    return attested;
  }
  TVD_RETURN_IF_ERROR(store_->SetAttestation(peer.name, true, ""));

  auto session = std::make_shared<Session>();
  session->tvd = request.tvd;
  session->host = peer.name;
  session->underlay = request.underlay;
  session->attested = true;  // Admit() above verified this very channel
  protocol::JoinGrant grant;
  {
    std::lock_guard lock(mutex_);
    auto it = tvds_.find(request.tvd);
    if (it == tvds_.end()) return NotFound("no TVD named " + request.tvd);
    TVD_ASSIGN_OR_RETURN(auto before, store_->Members(request.tvd));
    TVD_ASSIGN_OR_RETURN(auto hosts, store_->ListHosts());
    bool was_member =
        std::find(before.begin(), before.end(), peer.name) != before.end();
    bool moved = true;
    for (const HostRow& h : hosts) {
      if (h.name == peer.name) moved = h.underlay != request.underlay;
    }
    TVD_RETURN_IF_ERROR(store_->UpsertHost(peer.name, request.underlay));
    TVD_RETURN_IF_ERROR(store_->AddMember(request.tvd, peer.name));
    TVD_RETURN_IF_ERROR(store_->Audit(actor, "join", subject, true,
                                      was_member ? "rejoined" : "joined"));
    TVD_ASSIGN_OR_RETURN(grant.members, MembersLocked(request.tvd));
    Tvd& t = it->second;
    grant.tvd = request.tvd;
    grant.policy_xml = t.xml;
    grant.policy_digest = t.digest;
    grant.epoch = t.epoch;
    grant.key = t.key.Clone();
    grant.attestation_interval_seconds =
        t.policy.host_requirements.attestation_interval_seconds;
    auto old = live_.find({request.tvd, peer.name});
    if (old != live_.end()) {
      std::lock_guard slock(old->second->mutex);
      old->second->end = true;  // superseded by this channel
    }
    live_[{request.tvd, peer.name}] = session;
    if (!was_member || moved) {
      protocol::MembershipUpdate update;
      update.tvd = request.tvd;
      update.epoch = t.epoch;
      update.change = MembershipChange::kJoined;
      update.host = peer.name;
      update.members = grant.members;
      BroadcastLocked(request.tvd, MessageType::kMembershipUpdate,
                      protocol::Encode(update), peer.name);
    }
  }
  SecureBytes payload = Seal(protocol::Encode(grant));
  Status sent = conn.WriteFrame(MessageType::kJoinGrant, payload.view(),
                                options_.timeouts.write);
  if (sent.ok()) sent = ServeMember(conn, session);
  std::lock_guard lock(mutex_);
  auto it = live_.find({session->tvd, session->host});
  if (it != live_.end() && it->second == session) live_.erase(it);
  return sent;
}

Status Master::ServeMember(Connection& conn, const SessionPtr& session) {
  using Clock = std::chrono::steady_clock;
  auto interval = [&]() {
    std::lock_guard lock(mutex_);
    auto it = tvds_.find(session->tvd);
    return it == tvds_.end() ? std::chrono::milliseconds(1000)
                             : it->second.requirements.interval;
  };
  Clock::time_point due = Clock::now() + interval();
  while (!stop_) {
    std::vector<std::pair<MessageType, SecureBytes>> out;
    bool end;
    {
      std::lock_guard slock(session->mutex);
      out.swap(session->outbox);
      end = session->end;
    }
    for (auto& [type, payload] : out) {
      TVD_RETURN_IF_ERROR(
          conn.WriteFrame(type, payload.view(), options_.timeouts.write));
    }
    if (end) {
      conn.Close();
      return Status::Ok();
    }
    if (conn.WaitReadable(options_.poll)) {
      TVD_ASSIGN_OR_RETURN(Frame frame, conn.ReadFrame(options_.timeouts.read));
      if (frame.type == MessageType::kError) {
        return channel::DecodeErrorPayload(frame.payload).WithContext("peer");
      }
      return ProtocolError(
          "unsolicited message type " +
          std::to_string(static_cast<int>(frame.type)) +
          " on the member channel (requests go on their own connection)");
    }
    if (Clock::now() < due) continue;
    attest::TcbRequirements req;
    {
      std::lock_guard lock(mutex_);
      auto it = tvds_.find(session->tvd);
      if (it == tvds_.end()) continue;  // removed: the outbox ends us
      req = it->second.requirements;
    }
    attest::MasterAttestation attestation(enroller_, verifier_, nonces_,
                                          options_.timeouts);
    Status s = attestation.AttestOnce(conn, req);
    if (s.code() == ErrorCode::kUnavailable) return s;  // channel dropped
    TVD_RETURN_IF_ERROR(
        store_->SetAttestation(session->host, s.ok(), s.message()));
    if (!s.ok()) {
      // No key or report is served for this host from here on, even before
      // the eviction below has run.
      session->attested = false;
      AuditBestEffort("master", "reattest", Key(session->tvd, session->host),
                      false, s.message());
      Evict(session->host, "re-attestation failed: " + s.message());
      continue;  // the outbox now holds the LeaveNotice and the end mark
    }
    due = Clock::now() + req.interval;
  }
  return Status::Ok();
}

Status Master::HandleHostRequest(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  const auto write = options_.timeouts.write;
  if (peer.role != pki::Role::kHost) {
    Status s = PermissionDenied(
        "host requests need a host certificate; peer "
        "is " +
        actor);
    AuditBestEffort(actor, "host-request", "", false, s.message());
    return s;
  }
  if (frame.type == MessageType::kLeaveNotice) {
    TVD_ASSIGN_OR_RETURN(protocol::LeaveNotice notice,
                         protocol::DecodeLeaveNotice(frame.payload));
    std::string subject = Key(notice.tvd, peer.name);
    Status s;
    {
      std::lock_guard lock(mutex_);
      if (notice.host != peer.name) {
        s = PermissionDenied("LeaveNotice names host " + notice.host +
                             " but the certificate is " + actor);
      } else if (!tvds_.count(notice.tvd)) {
        s = NotFound("no TVD named " + notice.tvd);
      } else {
        TVD_ASSIGN_OR_RETURN(auto members, store_->Members(notice.tvd));
        if (std::find(members.begin(), members.end(), peer.name) ==
            members.end()) {
          s = NotFound("host " + peer.name + " is not a member of TVD " +
                       notice.tvd);
        } else {
          s = RemoveMemberLocked(notice.tvd, peer.name, MembershipChange::kLeft,
                                 "left: " + notice.reason);
        }
      }
    }
    if (!s.ok()) {
      AuditBestEffort(actor, "leave", subject, false, s.message());
      return s;
    }
    return conn.WriteFrame(MessageType::kAck, {}, write);
  }

  // VmReport and DiskKeyRequest need a member of the TVD.
  std::string tvd, vm;
  bool report = frame.type == MessageType::kVmReport;
  protocol::VmReport vm_report;
  if (report) {
    TVD_ASSIGN_OR_RETURN(vm_report, protocol::DecodeVmReport(frame.payload));
    tvd = vm_report.tvd;
    vm = vm_report.vm;
  } else {
    TVD_ASSIGN_OR_RETURN(auto request,
                         protocol::DecodeDiskKeyRequest(frame.payload));
    tvd = request.tvd;
    vm = request.vm;
  }
  std::string subject = Key(tvd, vm);
  std::string action =
      report ? (vm_report.attached ? "vm-attach" : "vm-detach") : "disk-key";
  if (!report) {
    // A disk key leaves only on a channel that proved itself: this
    // connection runs its own attestation, the quote bound to its own TLS
    // exporter, against the TVD's current requirements. A stolen host
    // certificate without the host's TPM, or a quote relayed from another
    // session, gets nothing (docs/master.md section 5).
    attest::TcbRequirements req;
    {
      std::lock_guard lock(mutex_);
      Status s = CheckMemberRequestLocked(peer.name, tvd, vm, true);
      if (!s.ok()) {
        AuditBestEffort(actor, action, subject, false, s.message());
        return s;
      }
      req = tvds_.at(tvd).requirements;
    }
    attest::MasterAttestation attestation(enroller_, verifier_, nonces_,
                                          options_.timeouts);
    Status attested = attestation.AttestOnce(conn, req);
    if (!attested.ok()) {
      AuditBestEffort(actor, action, subject, false,
                      "attestation: " + attested.message());
      return attested;
    }
  }
  std::lock_guard lock(mutex_);
  // (Again for a key: the membership may have ended during the quote.)
  Status s = CheckMemberRequestLocked(peer.name, tvd, vm, !report);
  if (!s.ok()) {
    AuditBestEffort(actor, action, subject, false, s.message());
    return s;
  }
  if (report) {
    TVD_RETURN_IF_ERROR(
        store_->SetVm(tvd, peer.name, vm, vm_report.attached, vm_report.uuid));
    TVD_RETURN_IF_ERROR(store_->Audit(actor, action, subject, true, ""));
    return conn.WriteFrame(MessageType::kAck, {}, write);
  }
  TVD_ASSIGN_OR_RETURN(auto wrapped, store_->WrappedDiskKey(tvd, vm));
  protocol::DiskKeyGrant grant{tvd, vm, {}};
  if (wrapped) {
    TVD_ASSIGN_OR_RETURN(grant.key,
                         UnwrapDiskKey(options_.kek, tvd, vm, *wrapped));
  } else {
    grant.key = SecureBytes::Random(protocol::kDiskKeySize);
    TVD_RETURN_IF_ERROR(store_->PutWrappedDiskKey(
        tvd, vm, WrapDiskKey(options_.kek, tvd, vm, grant.key)));
  }
  TVD_RETURN_IF_ERROR(store_->Audit(actor, action, subject, true,
                                    wrapped ? "released" : "created"));
  SecureBytes payload = Seal(protocol::Encode(grant));
  return conn.WriteFrame(MessageType::kDiskKeyGrant, payload.view(), write);
}

Status Master::HandleUsageClaim(Connection& conn, const Frame& frame) {
  const pki::Identity peer = conn.peer();
  const std::string actor = peer.ToString();
  if (peer.role != pki::Role::kHost) {
    Status s = PermissionDenied(
        "usage claims need a host certificate; peer is " + actor);
    AuditBestEffort(actor, "quota-claim", "", false, s.message());
    return s;
  }
  TVD_ASSIGN_OR_RETURN(protocol::UsageClaim claim,
                       protocol::DecodeUsageClaim(frame.payload));
  const std::string subject = Key(claim.tvd, peer.name);
  {
    std::lock_guard lock(mutex_);
    // Only an attested member counts: the figure is dropped with the
    // membership, and a host outside the TVD has nothing to claim.
    Status s;
    auto it = tvds_.find(claim.tvd);
    auto live = live_.find({claim.tvd, peer.name});
    if (it == tvds_.end()) {
      s = NotFound("no TVD named " + claim.tvd);
    } else if (live == live_.end() || !live->second->attested) {
      s = PermissionDenied("host " + peer.name +
                           " has no attested member channel for TVD " +
                           claim.tvd);
    } else if (!it->second.policy.total_quota.empty()) {
      s = quotas_.Claim(claim.tvd, peer.name, it->second.policy.total_quota,
                        claim.held, claim.adds);
      // Durable before the answer; should the write fail, the figure in
      // memory is the larger one, which only over-counts.
      if (s.ok()) {
        s = store_->PutQuotaUsage(
            {claim.tvd, peer.name, *quotas_.Of(claim.tvd, peer.name)});
      }
    }
    if (!s.ok()) {
      AuditBestEffort(actor, "quota-claim", subject, false, s.message());
      return s;
    }
  }
  return conn.WriteFrame(MessageType::kAck, {}, options_.timeouts.write);
}

Status Master::CheckMemberRequestLocked(const std::string& host,
                                        const std::string& tvd,
                                        const std::string& vm, bool disk_key) {
  auto it = tvds_.find(tvd);
  if (it == tvds_.end()) return NotFound("no TVD named " + tvd);
  auto live = live_.find({tvd, host});
  if (live == live_.end() || !live->second->attested) {
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

Status Master::HandleAdmin(Connection& conn, Frame frame) {
  const pki::Identity peer = conn.peer();
  if (peer.role != pki::Role::kAdmin) {
    Status s = PermissionDenied(
        "admin requests need an admin certificate; peer is " + peer.ToString());
    AuditBestEffort(peer.ToString(), "admin", "", false, s.message());
    return s;
  }
  while (true) {
    TVD_ASSIGN_OR_RETURN(std::string json, AdminRequest(peer, frame));
    TVD_RETURN_IF_ERROR(conn.WriteFrame(
        MessageType::kAdminReply, protocol::Encode(protocol::AdminReply{json}),
        options_.timeouts.write));
    auto next = conn.ReadFrame(options_.timeouts.read);
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

StatusOr<std::string> Master::AdminRequest(const pki::Identity& admin,
                                           const Frame& frame) {
  const std::string actor = admin.ToString();
  if (frame.type == MessageType::kAdminQuery) {
    TVD_ASSIGN_OR_RETURN(auto q, protocol::DecodeAdminQuery(frame.payload));
    return Query(q);
  }
  std::string action;
  std::string subject;
  auto audit = [&](const Status& s) {
    AuditBestEffort(actor, action, subject, s.ok(), s.message());
    return s;
  };
  if (frame.type == MessageType::kTvdRemove) {
    action = "tvd-remove";
    TVD_ASSIGN_OR_RETURN(auto rm, protocol::DecodeTvdRemove(frame.payload));
    subject = rm.tvd;
    std::lock_guard lock(mutex_);
    auto it = tvds_.find(rm.tvd);
    if (it == tvds_.end()) return audit(NotFound("no TVD named " + rm.tvd));
    if (it->second.from_file) {
      return audit(FailedPrecondition(
          "TVD " + rm.tvd +
          " comes from the policy directory; remove its file instead"));
    }
    TVD_RETURN_IF_ERROR(store_->RemoveTvd(rm.tvd));
    quotas_.DropTvd(rm.tvd);
    for (auto l = live_.begin(); l != live_.end();) {
      if (l->first.first != rm.tvd) {
        ++l;
        continue;
      }
      std::lock_guard slock(l->second->mutex);
      l->second->outbox.emplace_back(
          MessageType::kLeaveNotice,
          Seal(protocol::Encode(protocol::LeaveNotice{
              rm.tvd, l->first.second, "TVD removed by " + actor})));
      l->second->end = true;
      l = live_.erase(l);
    }
    tvds_.erase(it);
    (void)audit(Status::Ok());
    return nlohmann::json{{"removed", rm.tvd}}.dump();
  }

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
  if (!parsed.ok()) return audit(parsed.status());
  subject = parsed->name;
  auto requirements = RequirementsFor(*parsed);
  if (!requirements.ok()) return audit(requirements.status());
  std::lock_guard lock(mutex_);
  auto it = tvds_.find(parsed->name);
  if (add && it != tvds_.end()) {
    return audit(AlreadyExists("TVD " + parsed->name + " already exists"));
  }
  if (!add && it == tvds_.end()) {
    return audit(NotFound("no TVD named " + parsed->name));
  }
  if (!add && it->second.from_file) {
    return audit(FailedPrecondition(
        "TVD " + parsed->name +
        " comes from the policy directory; edit its file instead"));
  }
  for (const auto& [name, t] : tvds_) {
    if (name != parsed->name && t.policy.id == parsed->id) {
      return audit(AlreadyExists("TVD id " + std::to_string(parsed->id) +
                                 " is already used by TVD " + name));
    }
  }
  Tvd t;
  t.digest = policy::CanonicalDigest(*parsed);
  t.policy = std::move(parsed).value();
  t.xml = std::move(xml);
  t.requirements = std::move(requirements).value();
  std::string name = t.policy.name;
  if (add) {
    TVD_RETURN_IF_ERROR(store_->PutTvd({name, t.xml, ToHex(t.digest), 0}));
    TVD_RETURN_IF_ERROR(RekeyLocked(t));
    (void)audit(Status::Ok());
    std::string digest = ToHex(t.digest);
    tvds_[name] = std::move(t);
    return nlohmann::json{{"added", name}, {"digest", digest}}.dump();
  }
  Tvd& current = it->second;
  t.epoch = current.epoch;
  t.key = std::move(current.key);
  TVD_RETURN_IF_ERROR(store_->PutTvd({name, t.xml, ToHex(t.digest), t.epoch}));
  (void)audit(Status::Ok());
  current = std::move(t);
  protocol::PolicyUpdate update{name, current.xml, current.digest};
  BroadcastLocked(name, MessageType::kPolicyUpdate, protocol::Encode(update),
                  "");
  // Members the new policy no longer authorizes are evicted.
  TVD_ASSIGN_OR_RETURN(auto members, store_->Members(name));
  for (const std::string& host : members) {
    if (!AuthorizeHost(current.policy, {pki::Role::kHost, host}).ok()) {
      TVD_RETURN_IF_ERROR(RemoveMemberLocked(
          name, host, MembershipChange::kEvicted,
          "no longer authorized by the policy of TVD " + name));
    }
  }
  return nlohmann::json{{"updated", name}, {"digest", ToHex(current.digest)}}
      .dump();
}

StatusOr<std::string> Master::Query(const protocol::AdminQuery& q) {
  std::lock_guard lock(mutex_);
  TVD_ASSIGN_OR_RETURN(std::vector<HostRow> hosts, store_->ListHosts());
  std::map<std::string, const HostRow*> by_name;
  for (const HostRow& h : hosts) by_name[h.name] = &h;
  auto describe = [&](const std::string& name,
                      const Tvd& t) -> StatusOr<nlohmann::json> {
    nlohmann::json j{{"name", name},
                     {"id", t.policy.id},
                     {"digest", ToHex(t.digest)},
                     {"epoch", t.epoch},
                     {"source", t.from_file ? "file" : "admin"},
                     {"members", nlohmann::json::array()},
                     {"networks", nlohmann::json::array()},
                     {"vms", nlohmann::json::array()}};
    for (const policy::Network& n : t.policy.networks) {
      j["networks"].push_back(
          {{"name", n.name},
           {"kind", policy::NetworkKindName(n.kind)},
           {"vni", n.vni},
           {"subnet", n.subnet ? nlohmann::json(*n.subnet) : nullptr}});
    }
    TVD_ASSIGN_OR_RETURN(auto members, store_->Members(name));
    for (const std::string& m : members) {
      const HostRow* h = by_name.count(m) ? by_name[m] : nullptr;
      j["members"].push_back(
          {{"host", m},
           {"underlay", h ? h->underlay : ""},
           {"attested", h ? h->attested : false},
           {"attestation_reason", h ? h->attestation_reason : ""},
           {"attested_at", h ? h->attested_at : 0},
           {"connected", live_.count({name, m}) > 0}});
    }
    TVD_ASSIGN_OR_RETURN(auto vms, store_->Vms(name));
    for (const VmRow& v : vms) {
      j["vms"].push_back({{"vm", v.vm}, {"host", v.host}, {"uuid", v.uuid}});
    }
    if (!t.policy.total_quota.empty()) {
      const policy::QuotaAmounts used = quotas_.Total(name);
      j["quota_in_use"] = {{"domains", used.domains},
                           {"vcpus", used.vcpus},
                           {"memory_kib", used.memory_kib},
                           {"disk_bytes", used.disk_bytes}};
    }
    return j;
  };
  switch (q.kind) {
    case protocol::AdminQueryKind::kTvd: {
      auto it = tvds_.find(q.name);
      if (it == tvds_.end()) return NotFound("no TVD named " + q.name);
      TVD_ASSIGN_OR_RETURN(auto j, describe(it->first, it->second));
      return j.dump();
    }
    case protocol::AdminQueryKind::kTvds: {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& [name, t] : tvds_) {
        TVD_ASSIGN_OR_RETURN(auto j, describe(name, t));
        all.push_back(std::move(j));
      }
      return nlohmann::json{{"tvds", all}}.dump();
    }
    case protocol::AdminQueryKind::kHosts: {
      nlohmann::json all = nlohmann::json::array();
      for (const HostRow& h : hosts) {
        nlohmann::json tvds = nlohmann::json::array();
        for (const auto& [name, t] : tvds_) {
          TVD_ASSIGN_OR_RETURN(auto members, store_->Members(name));
          if (std::find(members.begin(), members.end(), h.name) !=
              members.end())
            tvds.push_back(name);
        }
        all.push_back({{"name", h.name},
                       {"underlay", h.underlay},
                       {"attested", h.attested},
                       {"attestation_reason", h.attestation_reason},
                       {"attested_at", h.attested_at},
                       {"tvds", tvds}});
      }
      return nlohmann::json{{"hosts", all}}.dump();
    }
    case protocol::AdminQueryKind::kAudit: {
      TVD_ASSIGN_OR_RETURN(auto rows, store_->RecentAudit(200));
      nlohmann::json all = nlohmann::json::array();
      for (const AuditRow& r : rows) {
        all.push_back({{"id", r.id},
                       {"at", r.at},
                       {"actor", r.actor},
                       {"action", r.action},
                       {"subject", r.subject},
                       {"allowed", r.allowed},
                       {"reason", r.reason}});
      }
      return nlohmann::json{{"audit", all}}.dump();
    }
  }
  return InvalidArgument("unknown query kind");
}

}  // namespace tvd::master

#include "sim_host.h"

#include "tvd/attest/credential.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/proxy/per_call_tpm.h"
#include "tvd/testing/software_tpm.h"

namespace tvd::bench {

StatusOr<std::unique_ptr<SimHost>> SimHost::Start(
    const std::string& name, const pki::KeyAndCertificate& ca, TpmUse use) {
  std::unique_ptr<SimHost> h(new SimHost);
  h->name_ = name;
  h->use_ = use;
  TVD_ASSIGN_OR_RETURN(auto cert,
                       pki::IssueCertificate(ca, pki::Role::kHost, name,
                                             pki::Validity::ForDays(1)));
  TVD_ASSIGN_OR_RETURN(h->tls_,
                       channel::TlsContext::Create(
                           channel::TlsSide::kClient,
                           {ca.cert_pem, cert.cert_pem, cert.key_pem.Clone()}));
  if (use != TpmUse::kSoftware) {
    TVD_ASSIGN_OR_RETURN(h->swtpm_, testing::SwtpmInstance::Start());
  }
  return h;
}

namespace {

// One EK for every in-process TPM: RSA key generation for thousands of
// hosts would take minutes of the benchmark's CPU.
StatusOr<attest::testing::SoftwareEk> SharedSoftwareEk() {
  static const StatusOr<attest::testing::SoftwareEk> ek =
      attest::testing::NewSoftwareEk();
  return ek;
}

}  // namespace

Status SimHost::OpenTpm() {
  if (use_ == TpmUse::kSoftware) {
    TVD_ASSIGN_OR_RETURN(auto shared_ek, SharedSoftwareEk());
    per_call_ = std::make_unique<attest::testing::SoftwareTpm>(shared_ek);
    TVD_ASSIGN_OR_RETURN(auto ek, per_call_->EkPublic());
    ek_digest_ = Sha256(ek);
    attester_ = std::make_unique<attest::Attester>(per_call_.get(),
                                                   attest::AttesterOptions{});
    return Status::Ok();
  }
  TVD_ASSIGN_OR_RETURN(tpm_, swtpm_->Open());
  TVD_ASSIGN_OR_RETURN(auto ek, tpm_->EkPublic());
  ek_digest_ = Sha256(ek);
  TVD_ASSIGN_OR_RETURN(auto ak, tpm_->AkPublic());
  // A swtpm tests each algorithm the first time it is used, which makes a
  // TPM's first activation and quote several times dearer: do both once
  // here, so the first measured run does not pay for it and the next not.
  TVD_ASSIGN_OR_RETURN(auto ak_name, attest::TpmObjectName(ak));
  const std::uint8_t warm[] = {1, 2, 3, 4};
  TVD_ASSIGN_OR_RETURN(auto challenge,
                       attest::MakeCredential(ek, ak_name, warm));
  TVD_RETURN_IF_ERROR(tpm_->ActivateCredential(challenge).status());
  const std::uint32_t pcrs[] = {16};
  TVD_RETURN_IF_ERROR(tpm_->Quote(pcrs, Sha256("warm-up")).status());
  attest::Tpm* tpm = tpm_.get();
  if (use_ == TpmUse::kPerCall || use_ == TpmUse::kPerCallUncached) {
    tpm_.reset();
    attest::EsysTpmOptions options;
    options.tcti = swtpm_->tcti();
    if (use_ == TpmUse::kPerCall) {
      options.key_cache = std::make_shared<attest::TpmKeyCache>();
    }
    per_call_ = std::make_unique<proxy::PerCallTpm>(
        [options]() -> StatusOr<std::unique_ptr<attest::Tpm>> {
          TVD_ASSIGN_OR_RETURN(auto esys, attest::EsysTpm::Open(options));
          return std::unique_ptr<attest::Tpm>(std::move(esys));
        });
    tpm = per_call_.get();
    // tvd-proxy reads both keys at start-up (so the cache holds them).
    TVD_RETURN_IF_ERROR(tpm->EkPublic().status());
    TVD_RETURN_IF_ERROR(tpm->AkPublic().status());
  }
  // No IMA allowlist in the benchmark policy, so the log is never asked for.
  attester_ =
      std::make_unique<attest::Attester>(tpm, attest::AttesterOptions{});
  return Status::Ok();
}

SimHost::~SimHost() {
  StopServing();
  client_.reset();
}

std::optional<std::size_t> SimHostIndex(std::string_view host) {
  constexpr std::string_view kPrefix = "sim";
  if (!host.starts_with(kPrefix) || host.size() == kPrefix.size() ||
      host.size() > kPrefix.size() + 9) {
    return std::nullopt;
  }
  std::size_t index = 0;
  for (char c : host.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  return index;
}

namespace {

// Sets (joined) or clears a host's bit; false when it already was so.
// nullopt for a host outside the population.
std::optional<bool> Flip(std::vector<std::uint64_t>& bits,
                         std::size_t population, const std::string& host,
                         bool joined) {
  std::optional<std::size_t> i = SimHostIndex(host);
  if (!i || *i >= population) return std::nullopt;
  std::uint64_t& word = bits[*i / 64];
  const std::uint64_t bit = std::uint64_t{1} << (*i % 64);
  if (((word & bit) != 0) == joined) return false;
  word ^= bit;
  return true;
}

}  // namespace

void SimHost::Connect(const protocol::MasterEndpoint& endpoint, bool full_list,
                      std::size_t population) {
  protocol::MasterClientOptions options;
  options.keep_member_list = full_list;
  // 10,000 serving threads checking their stop flag every 200 ms are 50,000
  // wakeups a second on the benchmark's two cores; RequestStop() is told
  // to all at once, so one slice of 2 s ends them all.
  options.stop_check = std::chrono::milliseconds(2000);
  full_list_ = full_list;
  population_ = population;
  client_ = std::make_unique<protocol::MasterClient>(name_, endpoint, *tls_,
                                                     *attester_, options);
  stop_ = false;
  policy_updates_ = 0;
  membership_updates_ = 0;
  membership_changes_ = 0;
  count_errors_ = 0;
  repeated_joins_ = 0;
  unknown_removals_ = 0;
}

StatusOr<protocol::JoinGrant> SimHost::Join(const std::string& tvd,
                                            const std::string& underlay) {
  auto grant = client_->Join({tvd, underlay, std::nullopt});
  if (grant.ok()) {
    epoch_ = grant->epoch;
    member_count_ = grant->members.size();
    if (!full_list_) {
      member_bits_.assign((population_ + 63) / 64, 0);
      std::size_t count = 0;
      for (const protocol::Member& m : grant->members) {
        // A grant lists each member once (its decoding checks that).
        if (Flip(member_bits_, population_, m.host, true).value_or(false)) {
          ++count;
        } else {
          ++count_errors_;
        }
      }
      member_count_ = count;
    }
  }
  return grant;
}

Status SimHost::Leave(const std::string& tvd) {
  return client_->Leave(tvd, "benchmark");
}

void SimHost::Serve() {
  {
    std::lock_guard l(mu_);
    served_.reset();
  }
  protocol::MasterEvents events;
  events.on_membership = [this](protocol::MembershipUpdate update,
                                const protocol::MemberList& list) {
    ++membership_updates_;
    membership_changes_ += static_cast<long>(update.changes.size());
    if (update.epoch > epoch_) {
      auto now = Clock::now();
      {
        std::lock_guard l(mu_);
        epoch_at_ = now;
      }
      epoch_ = update.epoch;
    }
    if (full_list_) {
      member_count_ = list.size();
      return;
    }
    // Count-only: the set changes as a MemberList would (a join of a
    // member and a removal of a non-member change nothing).
    std::size_t count = member_count_;
    for (const protocol::MemberChange& c : update.changes) {
      const bool joined = c.change == protocol::MembershipChange::kJoined;
      std::optional<bool> changed =
          Flip(member_bits_, population_, c.member.host, joined);
      if (!changed) {
        ++count_errors_;
      } else if (!*changed) {
        ++(joined ? repeated_joins_ : unknown_removals_);
      } else {
        joined ? ++count : --count;
      }
    }
    if (count != update.member_count) ++count_errors_;
    member_count_ = count;
  };
  events.on_policy = [this](protocol::PolicyUpdate) {
    auto now = Clock::now();
    {
      std::lock_guard l(mu_);
      last_policy_at_ = now;
    }
    ++policy_updates_;
  };
  events.on_leave = [](protocol::LeaveNotice) {};
  Status s = client_->Serve(events, stop_);
  std::lock_guard l(mu_);
  served_ = s;
  cv_.notify_all();
}

void SimHost::StartServing() {
  stop_ = false;
  {
    std::lock_guard l(mu_);
    served_.reset();
  }
  serving_ = std::thread([this] { Serve(); });
}

void SimHost::StopServing() {
  stop_ = true;
  if (serving_.joinable()) serving_.join();
}

bool SimHost::WaitServed(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  bool done = cv_.wait_for(l, timeout, [&] { return served_.has_value(); });
  l.unlock();
  if (done && serving_.joinable()) serving_.join();
  return done;
}

Clock::time_point SimHost::last_policy_at() const {
  std::lock_guard l(mu_);
  return last_policy_at_;
}

Clock::time_point SimHost::epoch_at() const {
  std::lock_guard l(mu_);
  return epoch_at_;
}

std::optional<Status> SimHost::served() const {
  std::lock_guard l(mu_);
  return served_;
}

}  // namespace tvd::bench

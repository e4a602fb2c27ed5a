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

std::uint64_t MemberDigest(const std::string& host) {
  // FNV-1a, then splitmix64's finaliser: cheap (a host applies millions
  // of changes in a 10,000-host run) and spread well enough that a missed
  // or doubled change shows in the sum.
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : host) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

void SimHost::Connect(const protocol::MasterEndpoint& endpoint,
                      bool full_list) {
  protocol::MasterClientOptions options;
  options.keep_member_list = full_list;
  // 10,000 serving threads checking their stop flag every 200 ms are 50,000
  // wakeups a second on the benchmark's two cores; RequestStop() is told
  // to all at once, so one slice of 2 s ends them all.
  options.stop_check = std::chrono::milliseconds(2000);
  full_list_ = full_list;
  client_ = std::make_unique<protocol::MasterClient>(name_, endpoint, *tls_,
                                                     *attester_, options);
  policy_updates_ = 0;
  membership_updates_ = 0;
  membership_changes_ = 0;
  member_digest_ = 0;
  count_errors_ = 0;
}

StatusOr<protocol::JoinGrant> SimHost::Join(const std::string& tvd,
                                            const std::string& underlay) {
  auto grant = client_->Join({tvd, underlay, std::nullopt});
  if (grant.ok()) {
    epoch_ = grant->epoch;
    member_count_ = grant->members.size();
    std::uint64_t digest = 0;
    if (!full_list_) {
      for (const protocol::Member& m : grant->members)
        digest += MemberDigest(m.host);
    }
    member_digest_ = digest;
  }
  return grant;
}

Status SimHost::Leave(const std::string& tvd) {
  return client_->Leave(tvd, "benchmark");
}

void SimHost::StartServing() {
  stop_ = false;
  {
    std::lock_guard l(mu_);
    served_.reset();
  }
  serving_ = std::thread([this] {
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
      // Count-only: every change is taken as news (a joined host that was
      // a member already would count twice and fail the final check; the
      // master announces a rejoin only for a new address, which the
      // benchmark's hosts never have).
      std::size_t count = member_count_;
      std::uint64_t digest = member_digest_;
      for (const protocol::MemberChange& c : update.changes) {
        if (c.change == protocol::MembershipChange::kJoined) {
          ++count;
          digest += MemberDigest(c.member.host);
        } else {
          --count;
          digest -= MemberDigest(c.member.host);
        }
      }
      if (count != update.member_count) ++count_errors_;
      member_count_ = count;
      member_digest_ = digest;
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
  });
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

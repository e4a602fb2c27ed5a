#include "sim_host.h"

namespace tvd::bench {

StatusOr<std::unique_ptr<SimHost>> SimHost::Start(
    const std::string& name, const pki::KeyAndCertificate& ca) {
  std::unique_ptr<SimHost> h(new SimHost);
  h->name_ = name;
  TVD_ASSIGN_OR_RETURN(auto cert,
                       pki::IssueCertificate(ca, pki::Role::kHost, name,
                                             pki::Validity::ForDays(1)));
  TVD_ASSIGN_OR_RETURN(h->tls_,
                       channel::TlsContext::Create(
                           channel::TlsSide::kClient,
                           {ca.cert_pem, cert.cert_pem, cert.key_pem.Clone()}));
  TVD_ASSIGN_OR_RETURN(h->swtpm_, testing::SwtpmInstance::Start());
  return h;
}

Status SimHost::OpenTpm() {
  TVD_ASSIGN_OR_RETURN(tpm_, swtpm_->Open());
  TVD_ASSIGN_OR_RETURN(auto ek, tpm_->EkPublic());
  ek_digest_ = Sha256(ek);
  TVD_RETURN_IF_ERROR(tpm_->AkPublic().status());
  // No IMA allowlist in the benchmark policy, so the log is never asked for.
  attester_ =
      std::make_unique<attest::Attester>(tpm_.get(), attest::AttesterOptions{});
  return Status::Ok();
}

SimHost::~SimHost() {
  StopServing();
  client_.reset();
}

void SimHost::Connect(const protocol::MasterEndpoint& endpoint) {
  client_ = std::make_unique<protocol::MasterClient>(name_, endpoint, *tls_,
                                                     *attester_);
  policy_updates_ = 0;
  membership_updates_ = 0;
}

StatusOr<protocol::JoinGrant> SimHost::Join(const std::string& tvd,
                                            const std::string& underlay) {
  return client_->Join({tvd, underlay, std::nullopt});
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
    events.on_membership = [this](protocol::MembershipUpdate) {
      ++membership_updates_;
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

std::optional<Status> SimHost::served() const {
  std::lock_guard l(mu_);
  return served_;
}

}  // namespace tvd::bench

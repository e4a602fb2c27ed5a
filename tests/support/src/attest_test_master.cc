#include "tvd/testing/attest_test_master.h"

namespace tvd::testing {

StatusOr<std::unique_ptr<TestMaster>> TestMaster::Start(
    TestMasterOptions options, const channel::TlsCredentials& credentials) {
  std::unique_ptr<TestMaster> m(new TestMaster);
  m->options_ = std::move(options);
  m->master_ = std::make_unique<attest::MasterAttestation>(
      m->enroller_, m->verifier_, m->nonces_, m->options_.timeouts);
  TVD_ASSIGN_OR_RETURN(auto tls, channel::TlsContext::Create(
                                     channel::TlsSide::kServer, credentials));
  TestMaster* raw = m.get();
  TVD_ASSIGN_OR_RETURN(
      m->server_,
      channel::ChannelServer::Start(
          m->options_.server,
          std::shared_ptr<const channel::TlsContext>(std::move(tls)),
          [raw](channel::Connection& c) { return raw->Handle(c); },
          [raw](const channel::ConnectionReport& r) {
            std::lock_guard lock(raw->mutex_);
            raw->reports_[r.peer_address] = r;
            raw->changed_.notify_all();
          }));
  return m;
}

TestMaster::~TestMaster() {
  stop_ = true;
  if (server_) server_->Stop();
}

Status TestMaster::Handle(channel::Connection& conn) {
  auto it = options_.requirements_by_name.find(conn.peer().name);
  const attest::TcbRequirements& req = it != options_.requirements_by_name.end()
                                           ? it->second
                                           : options_.default_requirements;
  TVD_RETURN_IF_ERROR(master_->Admit(conn, req));
  std::string peer = conn.peer_address();
  Status s = master_->Reattest(conn, req, stop_,
                               [this, peer](const attest::AttestationEvent& e) {
                                 std::lock_guard lock(mutex_);
                                 events_[peer].push_back(e);
                                 changed_.notify_all();
                               });
  // A host that hangs up between rounds has simply left.
  if (s.code() == ErrorCode::kUnavailable) return Status::Ok();
  return s;
}

StatusOr<channel::ConnectionReport> TestMaster::WaitForReport(
    const std::string& client_address, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout,
                         [&] { return reports_.count(client_address) != 0; })) {
    return Timeout("no report for " + client_address);
  }
  return reports_[client_address];
}

std::vector<attest::AttestationEvent> TestMaster::EventsFor(
    const std::string& client_address) {
  std::lock_guard lock(mutex_);
  return events_[client_address];
}

bool TestMaster::WaitForEvents(const std::string& client_address,
                               std::size_t count,
                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(
      lock, timeout, [&] { return events_[client_address].size() >= count; });
}

}  // namespace tvd::testing

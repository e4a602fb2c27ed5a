// A small master for tests and the benchmark: a ChannelServer whose handler
// enrols AKs and attests hosts with MasterAttestation, then re-attests them
// until they leave. Every connection's outcome is kept so a test can wait
// for the report of the one client it drove and check the exact reason.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "tvd/attest/attestation_session.h"
#include "tvd/channel/channel_server.h"

namespace tvd::testing {

struct TestMasterOptions {
  channel::ServerOptions server;
  attest::SessionTimeouts timeouts;
  // Requirements for hosts by identity name; `default_requirements` for
  // everyone else.
  std::map<std::string, attest::TcbRequirements> requirements_by_name;
  attest::TcbRequirements default_requirements;
};

class TestMaster {
 public:
  static StatusOr<std::unique_ptr<TestMaster>> Start(
      TestMasterOptions options, const channel::TlsCredentials& credentials);
  ~TestMaster();

  std::uint16_t port() const { return server_->port(); }
  attest::AkEnroller& enroller() { return enroller_; }
  attest::AkRegistry& aks() { return aks_; }
  // The IMA replay state kept between quotes, and its counters.
  attest::ImaReplayCache& ima_cache() { return ima_cache_; }

  // The report of the connection whose client end is `client_address`
  // ("127.0.0.1:port"), waiting up to `timeout`. Timeout if none came.
  StatusOr<channel::ConnectionReport> WaitForReport(
      const std::string& client_address, std::chrono::milliseconds timeout);

  // Re-attestation events seen so far for `client_address`.
  std::vector<attest::AttestationEvent> EventsFor(
      const std::string& client_address);
  // Waits until `count` events exist for `client_address`.
  bool WaitForEvents(const std::string& client_address, std::size_t count,
                     std::chrono::milliseconds timeout);

 private:
  TestMaster() = default;
  Status Handle(channel::Connection& conn);

  TestMasterOptions options_;
  attest::AkRegistry aks_;
  attest::NonceRegistry nonces_;
  attest::AkEnroller enroller_{aks_};
  attest::ImaReplayCache ima_cache_;
  attest::QuoteVerifier verifier_{aks_, nonces_, &ima_cache_};
  std::unique_ptr<attest::MasterAttestation> master_;
  std::atomic<bool> stop_{false};
  channel::ChannelServerPtr server_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, channel::ConnectionReport> reports_;  // mutex_
  std::map<std::string, std::vector<attest::AttestationEvent>>
      events_;  // mutex_
};

}  // namespace tvd::testing

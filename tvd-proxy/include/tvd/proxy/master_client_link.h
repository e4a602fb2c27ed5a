// MasterLink over the master protocol's MasterClient (tvd_protocol): the
// real connection of a tvd-proxy to the TVD master.
//
// Join() joins through the client, checks that the policy it received
// parses and matches the digest the master sent, and starts a thread that
// serves the member channel: membership updates (with the new key after a
// rekey) and policy updates go to the update handler, a LeaveNotice the
// proxy did not ask for becomes an eviction. When the channel drops (master
// restart) the thread joins again with the known policy digest, once a
// second, and hands the new epoch and key to the handler.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "tvd/mutex.h"
#include "tvd/protocol/master_client.h"
#include "tvd/proxy/master_link.h"

namespace tvd::proxy {

class MasterClientLink : public MasterLink {
 public:
  // `client` must outlive the link. `underlay` is this host's tunnel
  // address, sent with every join.
  MasterClientLink(protocol::MasterClient& client, std::string underlay);
  ~MasterClientLink() override;  // stops the serving thread

  StatusOr<JoinGrant> Join(const std::string& tvd) override;
  Status Leave(const std::string& tvd) override;
  StatusOr<SecureBytes> RequestDiskKey(const std::string& tvd,
                                       const std::string& vm) override;
  // A VmReport on its own request connection; a `uuid` that is not a UUID
  // is sent as empty (the master's decoder would refuse the whole report).
  Status ReportVm(const std::string& tvd, const std::string& vm,
                  const std::string& uuid, bool attached) override;
  // A UsageClaim on its own request connection (thread-safe); the master's
  // refusal is returned without the "peer: " prefix of remote errors, so the
  // tenant reads the quota's own wording.
  Status ClaimUsage(const std::string& tvd, const policy::QuotaAmounts& held,
                    const policy::QuotaAmounts& adds) override;
  void SetUpdateHandler(UpdateHandler handler) override;

 private:
  StatusOr<JoinGrant> JoinOnce(const std::string& tvd);
  void ServeLoop(std::string tvd);
  void Deliver(const MasterUpdate& update);

  protocol::MasterClient& client_;
  std::string underlay_;
  Mutex mu_;
  UpdateHandler handler_ TVD_GUARDED_BY(mu_);
  std::optional<Sha256Digest> known_digest_ TVD_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<bool> leaving_{false};
  std::thread serving_;
};

}  // namespace tvd::proxy

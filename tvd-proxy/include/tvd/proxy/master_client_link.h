// MasterLink over a list of master replicas (master_channel.h): the real
// connection of a tvd-proxy to the TVD master, which fails over to another
// replica when its master dies (docs/host.md, "Fail-over across master
// replicas").
//
// Join() tries the masters in list order, starting with the last one that
// served this link: the first that grants the join serves the member
// channel. A master that cannot be reached (Unavailable, a timeout, a TLS
// handshake that fails or shows another identity, a garbled answer) is
// skipped. A refusal is final and returned at once, never shopped around:
// PermissionDenied, NotFound, and Unauthenticated with the master's "peer: "
// reason (attestation refused). When every master failed, a single master's
// error is returned as it is; for several, the last master's code (or
// Unavailable when they differ) with "ADDR:PORT: reason" of each, joined
// by "; ".
//
// It checks that the policy it received parses and matches the digest the
// master sent, and starts a thread that serves the member channel:
// membership updates (with the new key after a rekey) and policy updates go
// to the update handler, a LeaveNotice the proxy did not ask for becomes an
// eviction (final: the link stops, nothing is rejoined).
//
// When the member channel ends without a LeaveNotice (I/O error, refused or
// timed-out connection, master killed), the thread joins again along a
// FailoverSchedule (failover_schedule.h): the next master first, then
// around, each after a jittered delay; every join attests afresh. The grant
// is handed to the handler as the continuation of the membership: a
// kPolicy update first when its policy digest differs from the one the
// proxy enforces, then one kMembers update with the grant's members, epoch
// and key (TvdProxy changes nothing when all three are as before, rekeys
// without teardown when the key moved on). A final refusal at the new master
// becomes an eviction, as before lists existed. Our own Leave() never leads
// to a rejoin, even when the master closes the channel before its notice.
//
// Request calls go to the master that serves the member channel (the one
// the host is attested with, and the one its VM reports reach after a
// fail-over). Leave and RequestDiskKey, which a master may answer twice
// without harm, go on to the next master when that one is Unavailable;
// ReportVm and ClaimUsage do not (a claim that one master applied must not
// be applied again by another; an unacknowledged report is kept by TvdProxy
// and sent again after the rejoin).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tvd/mutex.h"
#include "tvd/proxy/failover_schedule.h"
#include "tvd/proxy/master_channel.h"
#include "tvd/proxy/master_link.h"

namespace tvd::proxy {

struct MasterLinkOptions {
  FailoverBackoff backoff;
  // Waits `delay` or until `stop` becomes true, whichever is first. Default:
  // sleeps in slices of at most 50 ms, checking `stop`. Tests record the
  // delays and return at once.
  std::function<void(std::chrono::milliseconds delay,
                     const std::atomic<bool>& stop)>
      sleep;
  // Random numbers for the jitter. Default: a std::mt19937_64 seeded from
  // std::random_device. Called on the serving thread only.
  std::function<std::uint64_t()> random;
};

class MasterClientLink : public MasterLink {
 public:
  // `masters` in the order to try them (at least one; an empty list makes
  // every call FailedPrecondition "no master configured"). `underlay` is
  // this host's tunnel address, sent with every join.
  MasterClientLink(std::vector<MasterChannelPtr> masters, std::string underlay,
                   MasterLinkOptions options = {});
  ~MasterClientLink() override;  // stops the serving thread

  StatusOr<JoinGrant> Join(const std::string& tvd) override;
  Status Leave(const std::string& tvd) override;
  StatusOr<SecureBytes> RequestDiskKey(const std::string& tvd,
                                       const std::string& vm) override;
  // Both at the current master, then the others while Unavailable.
  StatusOr<SecureBytes> RequestVtpmKey(const std::string& tvd,
                                       const std::string& vm) override;
  Status RecordVtpm(const std::string& tvd, const std::string& vm,
                    const std::vector<std::uint8_t>& ek_public,
                    const std::vector<std::uint8_t>& ak_public) override;
  // To the master serving the member channel (the one that sent the
  // order); no failover.
  Status ReportGuestQuote(const protocol::GuestQuoteReport& report) override;
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

  // The index of the master that serves (or last served) the member
  // channel. Thread-safe.
  std::size_t current_master() const { return current_; }

  // True for the join errors that are a master's decision (see the file
  // comment), false for those that only say this master could not serve.
  static bool IsFinalRefusal(const Status& status);

 private:
  StatusOr<JoinGrant> JoinAt(std::size_t index, const std::string& tvd);
  void ServeLoop(std::string tvd);
  // After the member channel of master `lost` ended: joins again along the
  // schedule. False when the link stopped or the join was refused (then the
  // eviction is delivered).
  bool Rejoin(const std::string& tvd, std::size_t lost);
  void Deliver(const MasterUpdate& update);
  // The request call `call` at the current master, then (when `fail_over`
  // and it is Unavailable) at the others in list order.
  template <typename Call>
  auto AtMaster(bool fail_over, Call call)
      -> decltype(call(std::declval<MasterChannel&>()));

  std::vector<MasterChannelPtr> masters_;
  std::string underlay_;
  MasterLinkOptions options_;
  Mutex mu_;
  UpdateHandler handler_ TVD_GUARDED_BY(mu_);
  std::optional<Sha256Digest> known_digest_ TVD_GUARDED_BY(mu_);
  std::atomic<std::size_t> current_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> leaving_{false};
  std::thread serving_;
};

}  // namespace tvd::proxy

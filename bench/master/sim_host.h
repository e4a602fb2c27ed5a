// A simulated host for the master benchmark: what a tvd-proxy without VMs
// has towards the master. Its own host certificate (CN = name), its own
// software TPM (a swtpm process, or in-process: TpmUse::kSoftware), an
// Attester over that TPM, and a protocol::MasterClient; a serving thread
// that answers re-attestation and records what the master pushes.
//
// One host is driven by one thread at a time: Join()/Leave() from the
// caller, Serve() on the serving thread (the client does not join while it
// serves: StopServing() first, or Leave() and WaitServed()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tvd/attest/attester.h"
#include "tvd/attest/esys_tpm.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/protocol/master_client.h"
#include "tvd/sha256.h"
#include "tvd/status.h"
#include "tvd/testing/swtpm.h"

namespace tvd::bench {

using Clock = std::chrono::steady_clock;

// How the host's attester reaches its TPM.
enum class TpmUse {
  // Opened per operation (proxy::PerCallTpm), as tvd-proxy does: a new
  // ESYS context per call, the EK and AK created once at start-up and
  // loaded from their saved contexts afterwards (attest::TpmKeyCache).
  kPerCall,
  // As kPerCall, but the EK and AK recreated from the seeds on every call
  // (what tvd-proxy did before it kept the keys' contexts): the baseline.
  kPerCallUncached,
  // One ESYS context kept open for the host's lifetime.
  kHeld,
  // No swtpm: an in-process testing::SoftwareTpm (its own ECC AK, an
  // RSA-2048 EK shared by all simulated hosts), for host counts whose
  // swtpm processes would not fit on the benchmark machine. The master's
  // work per host is the same: MakeCredential to the EK, quote verified
  // with the AK.
  kSoftware,
};

// The number in a simulated host's name ("sim00042" is 42), which is its
// bit in a count-only host's member set; nullopt for any other name.
std::optional<std::size_t> SimHostIndex(std::string_view host);

class SimHost {
 public:
  // Issues the certificate and starts the swtpm.
  static StatusOr<std::unique_ptr<SimHost>> Start(
      const std::string& name, const pki::KeyAndCertificate& ca, TpmUse use);
  // Opens the TPM and creates EK and AK (so the TPM's key generation is not
  // part of any timed join). The swtpm TCTI opens a socket per command
  // without close-on-exec: no process may be started while TPM commands
  // run, or the child inherits the connection and the swtpm, which serves
  // one connection at a time, waits on it forever.
  Status OpenTpm();
  ~SimHost();

  const std::string& name() const { return name_; }
  const Sha256Digest& ek_digest() const { return ek_digest_; }
  // 0 without a swtpm process (kSoftware).
  pid_t swtpm_pid() const { return swtpm_ ? swtpm_->pid() : 0; }
  const channel::TlsContext& tls() const { return *tls_; }

  // A new MasterClient for `endpoint` (replaces the previous one; not while
  // serving). `full_list`: the client keeps the whole member list, checked
  // by protocol::MemberList on every update; otherwise (count-only) the
  // MasterClient keeps no list and the host keeps a bit per simulated host
  // of the `population` (SimHostIndex): 10,000 bits where a MemberList of
  // 10,000 entries takes 1 MB. As a MemberList does, it takes a join of a
  // member as no change (the master may announce a join decided again);
  // after every update its count must be the master's member_count
  // (count_errors()).
  void Connect(const protocol::MasterEndpoint& endpoint, bool full_list = true,
               std::size_t population = 0);
  StatusOr<protocol::JoinGrant> Join(const std::string& tvd,
                                     const std::string& underlay);
  Status Leave(const std::string& tvd);

  // Serves the member channel on the calling thread until RequestStop()
  // or the channel's end (a LeaveNotice), recording what the master
  // pushes. A host that joined on a thread of its own serves there: 10,000
  // hosts then cost 10,000 threads, not 20,000.
  void Serve();
  // Serve() on a thread of its own.
  void StartServing();
  // Sets the stop flag (Serve() sees it within 2 s).
  void RequestStop() { stop_ = true; }
  // Sets the stop flag and joins the thread of StartServing() (a Serve()
  // on the caller's thread ends on its own within 2 s).
  void StopServing();
  // Waits until Serve() returned (after a LeaveNotice); false on timeout.
  bool WaitServed(std::chrono::milliseconds timeout);

  // What the master pushed since the client was made.
  int policy_updates() const { return policy_updates_; }
  Clock::time_point last_policy_at() const;
  int membership_updates() const { return membership_updates_; }
  // Member changes those updates carried (the master may merge several
  // changes into one update).
  long membership_changes() const { return membership_changes_; }
  // The size of the member list after the JoinGrant and the
  // MembershipUpdates since.
  std::size_t member_count() const { return member_count_; }
  // Updates after which a count-only host's count differed from the
  // master's member_count, or that named a host outside the population
  // (0 for a full list: MemberList ends Serve then).
  int count_errors() const { return count_errors_; }
  // A count-only host: joins of hosts already members, and removals of
  // hosts that were not (each no change to the set).
  long repeated_joins() const { return repeated_joins_; }
  long unknown_removals() const { return unknown_removals_; }
  bool full_list() const { return full_list_; }
  std::optional<Status> served() const;
  // The key epoch of the JoinGrant or of the last MembershipUpdate, and
  // when the last new one arrived.
  std::uint64_t epoch() const { return epoch_; }
  Clock::time_point epoch_at() const;

 private:
  SimHost() = default;
  std::string name_;
  std::unique_ptr<channel::TlsContext> tls_;
  std::unique_ptr<testing::SwtpmInstance> swtpm_;
  TpmUse use_ = TpmUse::kPerCall;
  std::unique_ptr<attest::EsysTpm> tpm_;   // kHeld (and the warm-up)
  std::unique_ptr<attest::Tpm> per_call_;  // kPerCall*, kSoftware
  std::unique_ptr<attest::Attester> attester_;
  Sha256Digest ek_digest_{};
  std::unique_ptr<protocol::MasterClient> client_;

  std::thread serving_;
  std::atomic<bool> stop_{false};
  std::atomic<int> policy_updates_{0};
  std::atomic<int> membership_updates_{0};
  std::atomic<long> membership_changes_{0};
  std::atomic<std::size_t> member_count_{0};
  bool full_list_ = true;
  std::size_t population_ = 0;
  // Count-only: bit i for "sim<i>", written by Join() and then only by the
  // serving thread.
  std::vector<std::uint64_t> member_bits_;
  std::atomic<int> count_errors_{0};
  std::atomic<long> repeated_joins_{0};
  std::atomic<long> unknown_removals_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point last_policy_at_;  // mu_
  std::atomic<std::uint64_t> epoch_{0};
  Clock::time_point epoch_at_;    // mu_
  std::optional<Status> served_;  // mu_
};

}  // namespace tvd::bench

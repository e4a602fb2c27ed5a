// The TVD master: accepts trusted-channel connections and runs the master
// protocol (tvd/protocol/messages.h; docs/master.md).
//
// Per connection the first frame decides the conversation:
//  * JoinRequest (host certificate): authorize from the TVD policy, enrol
//    the AK when the host asks, attest against the policy's host
//    requirements, record the membership, answer JoinGrant (policy, current
//    key epoch and key, members), tell the other members (MembershipUpdate),
//    then keep the channel: push updates, re-attest at the policy's
//    interval. A failed re-attestation evicts the host from every TVD it is
//    in: the remaining members get a MembershipUpdate without it and a new
//    key epoch, the host gets LeaveNotice and its channel is closed.
//  * DiskKeyRequest / VmReport / LeaveNotice (host certificate): one request
//    on its own connection, answered DiskKeyGrant / kAck or kError. Key
//    release and VM reports need the host's member channel of that TVD to
//    be attested (Session::attested); a key is sent only after this request
//    connection itself passed an attestation round (AttestChallenge ->
//    AttestEvidence -> AttestVerdict) whose quote is bound to its own TLS
//    exporter.
//  * TvdAdd / TvdUpdate / TvdRemove / AdminQuery (admin certificate): any
//    number of requests, each answered AdminReply or kError.
// Every decision is written to the state store (with an audit row) before
// the answer is sent. TVD keys live only in memory: a start-up gives every
// TVD a fresh key under a new epoch, handed out as members reconnect.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "tvd/attest/ak_registry.h"
#include "tvd/attest/attestation_session.h"
#include "tvd/attest/enrolment.h"
#include "tvd/attest/nonce_registry.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/channel/channel_server.h"
#include "tvd/channel/tls_context.h"
#include "tvd/master/state_store.h"
#include "tvd/master/total_quota_ledger.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/protocol/messages.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::master {

struct MasterOptions {
  channel::ServerOptions server;
  channel::TlsCredentials credentials;
  std::string policy_dir;  // may be empty: no policy files
  std::string state_db;
  SecureBytes kek;  // 32 bytes (LoadKek)
  // host name -> trusted EK digests (SHA-256 of the EK public area).
  std::multimap<std::string, Sha256Digest> trusted_eks;
  attest::SessionTimeouts timeouts;
  // How often a member channel looks for pushed messages and due rounds.
  std::chrono::milliseconds poll{50};
};

// "<host> <64 hex>" per line ('#' comments, blank lines); InvalidArgument
// "PATH:LINE: ..." otherwise.
StatusOr<std::multimap<std::string, Sha256Digest>> LoadEkAllowlist(
    const std::string& path);

class Master {
 public:
  // Opens the state, loads TVDs (state first, then every *.xml in
  // policy_dir: new ones are added, changed ones updated), gives every TVD a
  // new key epoch, re-adds enrolled AKs, and starts listening. Errors name
  // the file or the part that failed.
  static StatusOr<std::unique_ptr<Master>> Start(MasterOptions options);
  // Closes every channel and stops. Idempotent.
  void Stop();
  ~Master();

  std::uint16_t port() const { return server_->port(); }
  StateStore& store() { return *store_; }

 private:
  struct Tvd {
    policy::TvdPolicy policy;
    std::string xml;
    Sha256Digest digest{};
    attest::TcbRequirements requirements;
    std::uint64_t epoch = 0;
    SecureBytes key;
    bool from_file = false;
  };
  // One live member channel; messages for it are queued by other threads
  // and written by the channel's own thread.
  struct Session {
    std::string tvd;
    std::string host;
    std::string underlay;
    std::mutex mutex;
    std::vector<std::pair<channel::MessageType, SecureBytes>> outbox;  // mutex
    bool end = false;  // mutex: close after the outbox is written
    // True once the channel's attestation succeeded (set before the session
    // is published), false again as soon as a re-attestation fails, before
    // the eviction has run. Key release and VM reports require it.
    std::atomic<bool> attested{false};
  };
  using SessionPtr = std::shared_ptr<Session>;

  explicit Master(MasterOptions options) : options_(std::move(options)) {}
  Status Load();
  Status Handle(channel::Connection& conn);
  Status HandleJoin(channel::Connection& conn, const channel::Frame& first);
  Status ServeMember(channel::Connection& conn, const SessionPtr& session);
  Status Admit(channel::Connection& conn, const attest::TcbRequirements& req);
  Status HandleHostRequest(channel::Connection& conn,
                           const channel::Frame& frame);
  // Needs mutex_. OK when `host` may report `vm` of `tvd` (and, with
  // `disk_key`, receive its disk key): the TVD exists, the host has an
  // attested member channel of it, the VM is in the policy (and in its
  // key release). NotFound / PermissionDenied with the reason otherwise.
  Status CheckMemberRequestLocked(const std::string& host,
                                  const std::string& tvd, const std::string& vm,
                                  bool disk_key);
  // UsageClaim (request channel): checked against the TVD's total quota
  // (TotalQuotaLedger), stored, answered kAck or the refusal.
  Status HandleUsageClaim(channel::Connection& conn,
                          const channel::Frame& frame);
  Status HandleAdmin(channel::Connection& conn, channel::Frame frame);
  StatusOr<std::string> AdminRequest(const pki::Identity& admin,
                                     const channel::Frame& frame);
  StatusOr<std::string> Query(const protocol::AdminQuery& q);

  // Needs mutex_. Removes `host` from `tvd`: store, new epoch, updates to
  // the remaining members, LeaveNotice to the host's channel.
  Status RemoveMemberLocked(const std::string& tvd, const std::string& host,
                            protocol::MembershipChange change,
                            const std::string& reason);
  // Needs mutex_. Starts a new key epoch for `tvd` (stored before use).
  Status RekeyLocked(Tvd& tvd);
  // Needs mutex_. Sorted member list with underlay addresses.
  StatusOr<std::vector<protocol::Member>> MembersLocked(const std::string& tvd);
  // Needs mutex_. Queues a frame to every live member channel of `tvd`
  // except `except`.
  void BroadcastLocked(const std::string& tvd, channel::MessageType type,
                       const std::vector<std::uint8_t>& payload,
                       const std::string& except);
  void Evict(const std::string& host, const std::string& reason);
  void AuditBestEffort(const std::string& actor, const std::string& action,
                       const std::string& subject, bool allowed,
                       const std::string& reason);

  MasterOptions options_;
  std::unique_ptr<StateStore> store_;
  attest::AkRegistry aks_;
  attest::NonceRegistry nonces_;
  attest::AkEnroller enroller_{aks_};
  attest::QuoteVerifier verifier_{aks_, nonces_};
  std::atomic<bool> stop_{false};
  channel::ChannelServerPtr server_;

  std::mutex mutex_;
  std::map<std::string, Tvd> tvds_;                                 // mutex_
  std::map<std::pair<std::string, std::string>, SessionPtr> live_;  // mutex_
  TotalQuotaLedger quotas_;                                         // mutex_
};

}  // namespace tvd::master

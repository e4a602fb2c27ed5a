// Host side of the master protocol: what a tvd-proxy uses to join a TVD,
// receive updates, leave, ask for disk keys and report VMs.
//
// One MasterClient per (host, TVD). Join() opens the long-lived member
// channel (TLS 1.3 with the host certificate, master identity checked),
// sends the JoinRequest, enrols the AK when asked to, attests, and returns
// the JoinGrant (policy, key epoch + key, members). Serve() then runs on the
// member channel until it ends: it answers the master's re-attestation
// challenges itself and hands every MembershipUpdate / PolicyUpdate /
// LeaveNotice to the callbacks, on Serve's thread.
//
// Leave(), RequestDiskKey() and ReportVm() each open their own short request
// connection, so they may be called from any thread while Serve() runs (a
// Connection is single-threaded, and the member channel belongs to Serve).
//
// After Serve() returns because the channel dropped (master restart, network),
// call Join() again with known_policy_digest set: the master answers with
// the current (usually a new) epoch. Members keep their tunnels meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "tvd/attest/attester.h"
#include "tvd/channel/connection.h"
#include "tvd/channel/frame.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/identity.h"
#include "tvd/protocol/member_list.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

struct MasterEndpoint {
  std::string address;  // numeric IPv4/IPv6
  std::uint16_t port = 0;
  pki::Identity identity;  // the master's certificate identity
};

struct MasterClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{15000};
  // Run AK enrolment (MakeCredential/ActivateCredential) before attesting.
  // The master keeps enrolled AKs in its state, so this is needed on the
  // first join of a host; doing it on every join is harmless.
  bool enrol_ak = true;
  // Keep the member list (JoinGrant plus every MembershipUpdate, checked
  // against the master's count). Off, the client keeps no list and checks
  // nothing: on_membership gets each update with an empty list, and the
  // caller keeps what it needs (the master benchmark's count-only hosts,
  // thousands of which would otherwise hold thousands of entries each).
  bool keep_member_list = true;
  // How often Serve() looks at its stop flag while the channel is quiet.
  // A benchmark serving thousands of simulated hosts in one process sets
  // it longer: each check wakes each host's thread.
  std::chrono::milliseconds stop_check{200};
};

// Called on Serve()'s thread. Keys inside the messages are SecureBytes; the
// callee takes them over.
struct MasterEvents {
  // The update as received, and the member list after it (the JoinGrant's
  // list with every update so far applied; valid during the call). An update
  // that does not fit the list ends Serve() with MemberList::Apply's
  // ProtocolError, and the host joins again for the whole list.
  std::function<void(MembershipUpdate, const MemberList&)> on_membership;
  std::function<void(PolicyUpdate)> on_policy;
  // The master told this host to leave (evicted, TVD removed) or confirmed
  // a Leave(). Serve() returns right after.
  std::function<void(LeaveNotice)> on_leave;
  // The master asks for a guest's quote (a tenant's deep quote). The
  // callee answers later with ReportGuestQuote, off Serve()'s thread: a
  // guest that takes its time must not hold up re-attestation. Without a
  // callee the order is answered at once with the error "this host does
  // not relay guest quotes".
  std::function<void(GuestQuoteOrder)> on_guest_quote;
};

class MasterClient {
 public:
  // `host_name` is this host's identity name (the CN of its certificate);
  // `tls` is a kClient context with that certificate; `attester` answers
  // quotes. `tls` and `attester` must outlive the client. The attester
  // quotes on Serve()'s thread and on RequestDiskKey()'s caller's thread,
  // possibly at once: its Tpm must serialise calls (proxy::PerCallTpm
  // does; an EsysTpm alone does not).
  MasterClient(std::string host_name, MasterEndpoint endpoint,
               const channel::TlsContext& tls, attest::Attester& attester,
               MasterClientOptions options = {});
  ~MasterClient();
  MasterClient(const MasterClient&) = delete;
  MasterClient& operator=(const MasterClient&) = delete;

  // Opens the member channel and joins. Errors: Unavailable (no master),
  // Unauthenticated (TLS / wrong master / attestation refused: the master's
  // reason prefixed "peer: "), PermissionDenied "peer: host X is not
  // authorized for TVD Y", NotFound "peer: no TVD named Y", ProtocolError.
  // A previous member channel of this client is closed first.
  StatusOr<JoinGrant> Join(const JoinRequest& request);

  // Serves the member channel until it ends or `stop` becomes true (checked
  // every options.stop_check, 200 ms by default). OK when the master sent
  // LeaveNotice or `stop` was set; Unavailable when the channel dropped
  // (reconnect with Join()); the peer's error otherwise (e.g. re-attestation
  // refused).
  Status Serve(const MasterEvents& events, const std::atomic<bool>& stop);

  // Closes the member channel (no notice to the master).
  void Close();

  // Tells the master this host leaves `tvd` (request connection). The master
  // records it, rekeys the remaining members, answers kAck and sends
  // LeaveNotice on the member channel. NotFound "peer: host X is not a member
  // of TVD Y" when not a member.
  Status Leave(const std::string& tvd, const std::string& reason);

  // The VM's disk key. The master first attests the request connection
  // itself (this client's attester answers one challenge, bound to that
  // connection's TLS exporter); the key follows the verdict.
  // PermissionDenied "peer: ..." when this host is not an attested member,
  // the policy does not release a key to that VM, or the quote does not
  // meet the TVD's requirements (the verifier's reason).
  StatusOr<DiskKeyGrant> RequestDiskKey(const std::string& tvd,
                                        const std::string& vm);

  // The state key of the VM's vTPM, on an attested request connection as
  // RequestDiskKey. PermissionDenied "peer: ..." when this host is not an
  // attested member, the policy gives that VM no vTPM, or the quote does
  // not meet the TVD's requirements.
  StatusOr<VtpmKeyGrant> RequestVtpmKey(const std::string& tvd,
                                        const std::string& vm);

  // Records the EK and AK of a vTPM this host created for a VM. The
  // master's refusals (docs/master.md, "vTPM bindings") as "peer: ...".
  Status RecordVtpm(const VtpmRecord& record);

  // Answers a GuestQuoteOrder (request connection). The master's refusal
  // (no such order, or not this host's) as "peer: ...".
  Status ReportGuestQuote(const GuestQuoteReport& report);

  // Records an attached / detached VM at the master.
  Status ReportVm(const VmReport& report);

  // Claims (or, with zero `adds`, reports) the TVD's usage on this host for
  // its total quota. ResourceExhausted "peer: quota of TVD ... exceeded:
  // ..." when the master refuses it.
  Status ClaimUsage(const UsageClaim& claim);

 private:
  StatusOr<channel::ConnectionPtr> Connect(
      std::size_t max_payload = channel::kDefaultMaxPayload) const;
  // One request frame on a fresh connection that the master attests
  // before it answers (this client's attester answers one challenge bound
  // to the connection's TLS exporter); returns the answer frame.
  StatusOr<channel::Frame> AttestedRequest(
      channel::MessageType type, std::span<const std::uint8_t> payload,
      channel::MessageType expected) const;
  // One request frame on a fresh connection; returns the answer frame
  // (kError turned into its Status).
  StatusOr<channel::Frame> Request(channel::MessageType type,
                                   std::span<const std::uint8_t> payload,
                                   channel::MessageType expected) const;

  std::string host_name_;
  MasterEndpoint endpoint_;
  const channel::TlsContext& tls_;
  attest::Attester& attester_;
  MasterClientOptions options_;
  channel::ConnectionPtr member_;  // owned by the thread in Join/Serve
  MemberList members_;             // as member_'s updates left it
};

}  // namespace tvd::protocol

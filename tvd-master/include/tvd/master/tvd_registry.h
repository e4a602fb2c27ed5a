// The master's decisions about TVDs, hosts, memberships and key epochs, as
// pure state: no I/O, no locking, no threads. Every change returns a
// Decision: the store writes that make it durable (in order) and the
// messages for member channels that may leave only after those writes
// succeeded. The caller (Master) holds one lock around the registry, hands
// each Decision to the WriteJournal under that lock (so the journal's order
// is the decision order) and waits for durability outside it.
//
// The in-memory state changes when the decision is made: a later decision
// sees it at once. Durable state follows in the same order; should a write
// fail, the journal stops delivering (write_journal.h), so nothing that was
// not stored ever reaches a host.
//
// Identity rule: a host is its certificate name; a member is (TVD, host);
// a TVD is its policy name, and two TVDs never share a policy id.
//
// Errors are values with the exact wording the protocol returns to the
// peer: NotFound "no TVD named X", PermissionDenied for a request the
// certificate or policy does not allow, AlreadyExists / FailedPrecondition
// for admin changes that conflict (see each method).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tvd/attest/requirements.h"
#include "tvd/channel/frame.h"
#include "tvd/master/state_store.h"
#include "tvd/master/store.h"
#include "tvd/master/total_quota_ledger.h"
#include "tvd/pki/identity.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/protocol/messages.h"
#include "tvd/secure_bytes.h"
#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::master {

struct TvdState {
  policy::TvdPolicy policy;
  std::string xml;
  Sha256Digest digest{};
  // What members get of the policy, and its digest (policy/member_view.h):
  // the policy without its authorized hosts.
  std::string member_xml;
  Sha256Digest member_digest{};
  attest::TcbRequirements requirements;
  std::uint64_t epoch = 0;
  SecureBytes key;  // of `epoch`; stored only wrapped under the KEK
  bool from_file = false;
  // The host names `policy` authorizes (AuthorizedHostNames): a join is
  // checked in O(log N), not against every subject of a policy that lists
  // N hosts.
  std::set<std::string> authorized;
  std::set<std::string> members;  // host names
  // The members this registry's own Join added that no stored membership
  // list has shown yet (a subset of `members`): a join whose transition
  // may still lose its race, in which case no member ever heard of it.
  // ApplyStored drops such a member from a row another master wrote
  // without telling anyone; every other member gone from the row was
  // announced and is announced gone.
  std::set<std::string> joining;
  // `members` with their underlay addresses, sorted by host: what a grant
  // carries, kept in step with each join and removal instead of being
  // rebuilt from the two maps for every grant. Rebuilt when not valid.
  std::vector<protocol::Member> roster;
  bool roster_valid = false;
  // The stored row's token this state was decided on or produced: the
  // precondition of the next decision on the TVD (TvdTransition).
  std::string token;
};

// One message for the member channel of (tvd, host), or, `broadcast`, one
// message for the channel of every member of `tvd` but `host` (empty:
// none left out): a change of a TVD of N members is one notice, not N.
// A broadcast reaches the members of the TVD as of the decision: a member
// the same decision removes is told to leave by a notice of its own before
// it (or is `host`), and a member that joins later hears none of it.
struct Notice {
  std::string tvd;
  std::string host;
  channel::MessageType type;
  std::shared_ptr<const SecureBytes> payload;
  bool end = false;  // close the channel after this message
  bool broadcast = false;
};

// One durable write. `required`: its failure fails the decision (and stops
// the journal); audit rows the old master wrote best effort are not
// required and only logged when lost.
struct StoreWrite {
  std::function<Status(Store&)> apply;
  bool required = true;
  std::string what;  // for logs and tests: "SetEpoch blue 3"
  // A required write that fails only its own entry, not the journal: it
  // changes at most one row no later decision depends on (a disk key).
  bool isolated = false;
  // Set for a TvdTransition of this TVD: its FailedPrecondition (another
  // master changed the TVD first) fails only its own entry and tells the
  // journal's conflict handler, which brings the registry to the stored
  // state; the caller decides again.
  std::string transition_of{};
  // The transition itself (set with transition_of), so that a caller may
  // mark it before it is submitted (TvdTransition::fenced).
  std::shared_ptr<TvdTransition> transition{};
};

struct Decision {
  std::vector<StoreWrite> writes;
  std::vector<Notice> notices;
  void Append(Decision&& other);
};

struct JoinOutcome {
  // The JoinGrant, encoded (it carries the TVD's key). Encoded from the
  // roster in place: a copy of the member list per join is 10^8 entries
  // copied in a storm of 10,000 joins.
  SecureBytes grant;
  Decision decision;
};

struct AdminOutcome {
  std::string reply_json;
  Decision decision;
};

class TvdRegistry {
 public:
  // `max_members`: the most members one TVD may have; a JoinGrant carries
  // them all, and a host refuses a grant above protocol::kMaxMembers.
  explicit TvdRegistry(std::size_t max_members = protocol::kMaxMembers)
      : max_members_(max_members) {}

  // With a KEK, every stored row carries its epoch's key wrapped under it
  // (WrapTvdKey) and Restore takes the stored key instead of leaving the
  // TVD without one: what replicas sharing a store need. Without one
  // (tests), rows carry no key.
  void SetKek(SecureBytes kek) { kek_ = std::move(kek); }

  // --- Start-up -----------------------------------------------------------
  // Restores a TVD from the state store. InvalidArgument "state db TVD X:
  // ..." when the stored policy no longer parses or has no requirements.
  Status Restore(const TvdRow& row, const std::vector<std::string>& members);
  // The known underlay address of a host (from the state store).
  void RestoreHost(const std::string& host, const std::string& underlay);
  // Whether the TVD has a key for its epoch (one Restore unwrapped).
  bool HasKey(const std::string& tvd) const;

  // --- Replicas sharing a store -------------------------------------------
  // The stored row of `tvd` changed (`row`; nullopt: the TVD is gone) with
  // its `members`, as a store monitor or a lost race saw it. A row whose
  // token this registry produced itself is its own decision coming back
  // and changes nothing, unless `force` (after a lost race). Otherwise the
  // TVD becomes the stored one and the members here hear the difference:
  // a PolicyUpdate for a new policy, a MembershipUpdate (with the new key
  // for a new epoch) for members gone or come, a LeaveNotice for a member
  // that is gone. Errors: Restore's for a stored policy that does not
  // parse, UnwrapTvdKey's for a key that does not unwrap (nothing changes).
  // `departures` says why members went (host -> departure, StoreMirror);
  // a member gone without one was evicted as far as this master knows.
  // A member gone without a departure whose join this registry decided and
  // the store never showed (TvdState::joining) lost its race: it goes
  // without a notice, to others or to its own channel (whose join is
  // decided again or answered with its error).
  StatusOr<Decision> ApplyStored(
      const std::string& tvd, const std::optional<TvdRow>& row,
      const std::vector<std::string>& members, bool force,
      const std::map<std::string, Departure>& departures = {});
  // Hosts another master admitted to `tvd` (a join does not change the
  // row, whose token is `token`): members here hear of those that are new
  // to them. Nothing happens while this registry's row differs (its own
  // decisions are on the way, or the row change comes with ApplyStored).
  Decision ApplyStoredJoins(const std::string& tvd, const std::string& token,
                            const std::vector<std::string>& hosts);
  // Forgets every TVD and host (a replica's start-up that lost a race
  // starts over from the store).
  void Clear();
  // The underlay address another master recorded for a host. An empty one
  // (the row an attestation verdict made before the host's join recorded
  // its address, possibly this master's own write coming back late) never
  // replaces a known address: a grant with an empty member address is
  // refused by every host.
  void ApplyStoredHost(const std::string& host, const std::string& underlay) {
    if (!underlay.empty()) SetUnderlay(host, underlay);
  }
  // A policy file from the policy directory: added when new, replacing the
  // stored one when changed (keeping its epoch and members), only marked as
  // file-owned when unchanged. Errors: the parser's, with `source`.
  StatusOr<Decision> LoadFile(const std::string& source, std::string xml);
  // Keys are memory only: gives every TVD a new epoch and key.
  Decision RekeyAll();

  // --- Members --------------------------------------------------------------
  // Whether `peer` may join `tvd`: the TVD's requirements, or NotFound "no
  // TVD named X" / AuthorizeHost's PermissionDenied / Join's
  // ResourceExhausted for a full TVD (checked again by Join).
  StatusOr<attest::TcbRequirements> CheckJoin(const std::string& tvd,
                                              const pki::Identity& peer) const;
  // Records the attested `host` as a member with `underlay` and returns its
  // grant (current epoch and key, sorted members). The other members hear
  // a MembershipUpdate (no key) unless the host was a member already at the
  // same underlay. Writes: UpsertHost, AddMember, the audit row ("joined" /
  // "rejoined"). NotFound when the TVD went away meanwhile;
  // ResourceExhausted "TVD X has N members, the most a TVD may have" for a
  // new member of a full TVD. `announce`: the other members hear of the
  // host in any case. A join decided again after its first decision lost
  // a race passes it: that decision counted the host a member, but its
  // MembershipUpdate was never sent (a second kJoined of a known member
  // changes nothing at a member).
  StatusOr<JoinOutcome> Join(const std::string& tvd, const std::string& host,
                             const std::string& underlay,
                             const std::string& actor, bool announce = false);
  // `peer` leaves `tvd` on its own LeaveNotice naming `named_host`.
  // PermissionDenied "LeaveNotice names host A but the certificate is
  // host:B", NotFound "no TVD named X", NotFound "host B is not a member of
  // TVD X"; otherwise RemoveMember with kLeft.
  StatusOr<Decision> Leave(const std::string& tvd, const pki::Identity& peer,
                           const std::string& named_host,
                           const std::string& reason);
  // Removes `host` from `tvd`: the membership (and its VMs) from the store,
  // an audit row, a new epoch; the remaining members get a MembershipUpdate
  // with the new key, the host a LeaveNotice that ends its channel.
  // NotFound "no TVD named X".
  StatusOr<Decision> RemoveMember(const std::string& tvd,
                                  const std::string& host,
                                  protocol::MembershipChange change,
                                  const std::string& reason);
  // Removes `host` from every TVD it is a member of (kEvicted, "evicted:
  // <reason>").
  Decision Evict(const std::string& host, const std::string& reason);
  // Starts a new key epoch for `tvd`: SetEpoch before the key is used.
  StatusOr<Decision> Rekey(const std::string& tvd);

  // OK when `host` may report `vm` of `tvd` (and with `disk_key` receive its
  // disk key). `attested_channel`: the host has a live member channel of the
  // TVD that passed its attestation. NotFound "no TVD named X";
  // PermissionDenied "host H has no attested member channel for TVD X",
  // "VM V is not in the policy of TVD X", "the policy of TVD X releases no
  // disk key to VM V".
  Status CheckMemberRequest(const std::string& host, const std::string& tvd,
                            const std::string& vm, bool disk_key,
                            bool attested_channel) const;
  // CheckMemberRequest without a disk key, then PermissionDenied "the
  // policy of TVD X gives VM V no vTPM" unless the policy grants one
  // (TvdPolicy::GrantsVtpmTo): the vTPM key and record requests.
  Status CheckVtpmRequest(const std::string& host, const std::string& tvd,
                          const std::string& vm, bool attested_channel) const;

  // --- Quotas in total -----------------------------------------------------
  // A figure stored by an earlier run (loaded without a check).
  void RestoreUsage(const QuotaUsageRow& row);
  // `host` claims usage of `tvd` going from `held` to held + adds
  // (UsageClaim). NotFound "no TVD named X"; PermissionDenied "host H has
  // no attested member channel for TVD X" unless `attested_channel` and a
  // member; TotalQuotaLedger::Claim's ResourceExhausted. A TVD without a
  // total quota accepts every claim and stores nothing; otherwise the
  // decision writes the host's new figure (isolated: should it fail, the
  // figure in memory is the larger one, which only over-counts).
  StatusOr<Decision> ClaimUsage(const std::string& tvd, const std::string& host,
                                const policy::QuotaAmounts& held,
                                const policy::QuotaAmounts& adds,
                                bool attested_channel);
  const TotalQuotaLedger& quotas() const { return quotas_; }

  // --- Admin ----------------------------------------------------------------
  // `p` is the parsed `xml` (the caller parses, so a parse error is its own).
  // RequirementsFor's errors first, then AlreadyExists "TVD X already exists" /
  // "TVD id N is already used by TVD Y"; the parser's and RequirementsFor's
  // errors. Writes PutTvd, SetEpoch.
  StatusOr<AdminOutcome> AddTvd(policy::TvdPolicy p, std::string xml,
                                const std::string& actor);
  // NotFound "no TVD named X"; FailedPrecondition "TVD X comes from the
  // policy directory; edit its file instead"; AlreadyExists for a taken id.
  // Members get a PolicyUpdate; members the new policy no longer authorizes
  // are evicted ("no longer authorized by the policy of TVD X").
  StatusOr<AdminOutcome> UpdateTvd(policy::TvdPolicy p, std::string xml,
                                   const std::string& actor);
  // NotFound; FailedPrecondition "TVD X comes from the policy directory;
  // remove its file instead". Every live member gets a LeaveNotice ("TVD
  // removed by <actor>") that ends its channel.
  StatusOr<AdminOutcome> RemoveTvd(const std::string& name,
                                   const std::string& actor);

  // --- Reads ----------------------------------------------------------------
  const TvdState* Find(const std::string& tvd) const;
  const std::map<std::string, TvdState>& tvds() const { return tvds_; }
  bool IsMember(const std::string& tvd, const std::string& host) const;
  // Sorted by host, with the last known underlay address.
  std::vector<protocol::Member> MembersOf(const TvdState& t) const;

 private:
  // Records the address of `host` and brings the rosters of its TVDs up to
  // date.
  void SetUnderlay(const std::string& host, const std::string& underlay);
  // `t.roster`, rebuilt first when not valid.
  const std::vector<protocol::Member>& Roster(TvdState& t) const;
  // Keeps a valid roster in step with `host` joining (or moving) / going.
  void RosterPut(TvdState& t, const std::string& host) const;
  void RosterErase(TvdState& t, const std::string& host) const;
  Status CheckRoom(const std::string& tvd, const TvdState& t,
                   const std::string& host) const;
  // Gives `t` a new token (remembered as this registry's own) and returns
  // its row, with the key wrapped when there is a KEK.
  TvdRow NextRow(TvdState& t);
  bool IsOwnToken(const std::string& tvd, const std::string& token) const;

  const std::size_t max_members_;
  SecureBytes kek_;
  // The tokens this registry produced, per TVD (the newest kOwnTokens):
  // a stored row with one of them is this registry's own decision.
  std::map<std::string, std::deque<std::string>> own_tokens_;
  std::map<std::string, TvdState> tvds_;
  std::map<std::string, std::string> underlay_;  // host -> address
  // What each member's relay claimed; a host's figure goes with its
  // membership, a TVD's with the TVD (the store drops the rows in the same
  // RemoveMember / RemoveTvd).
  TotalQuotaLedger quotas_;
};

}  // namespace tvd::master

// Which members are past their eviction deadline, as pure state: the
// members with their TVD's re-attestation interval and the hosts' stored
// attestation verdicts go in, with the time; the hosts to evict come out.
// No I/O, no clock of its own. SingletonDuties (singleton_duties.h) runs it
// on the replica that holds the duty.
//
// Why: a member host re-attests on its member channel every interval of
// its TVD, and each verdict is stored (Host.attested_at, unix seconds,
// written by whichever replica holds the channel). A host whose replica
// died and which never came back to another one has nobody re-attesting
// it: nothing would ever evict it. The deadline closes that.
//
// The rule, per member (TVD T, host H):
//  - H's newest verdict was good at A: the deadline is A + T's interval +
//    grace (+ 1 s for the column's whole seconds);
//  - H's newest verdict failed at A: the replica that saw it evicts at
//    once; if that eviction was lost (the replica died in between), the
//    deadline is A + grace (+ 1 s);
//  - H has no verdict stored (attested_at 0, or no Host row): the deadline
//    counts from `duty_since` (when this replica took the duty) as if a
//    good verdict had come then.
// No deadline comes before `duty_since` + interval + grace (+ grace only,
// after a failed verdict): a replica that just took the duty (or a single
// master that just restarted, whose hosts are reconnecting) cannot know
// whether the hosts were re-attested meanwhile, and gives each one round.
// A host past the deadline in any of its TVDs is evicted (from all of
// them, as a failed re-attestation is); the reason names the TVD whose
// deadline passed first. `grace` must cover a re-attestation round, a
// host's fail-over to another replica and the replicas' clock skew.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tvd/master/state_store.h"

namespace tvd::master {

struct MemberInterval {
  std::string tvd;
  std::string host;
  std::chrono::milliseconds interval;  // the TVD's re-attestation interval
};

struct OverdueHost {
  std::string host;
  std::string reason;
  // By how much the deadline has passed (for logs and tests).
  std::chrono::milliseconds late{0};
};

// Hosts to evict at `now_unix_ms` (milliseconds since the epoch), sorted
// by host name, each once. `hosts` are the stored Host rows; `duty_since`
// is in unix milliseconds too.
std::vector<OverdueHost> OverdueHosts(
    const std::vector<MemberInterval>& members,
    const std::vector<HostRow>& hosts, std::int64_t now_unix_ms,
    std::int64_t duty_since_unix_ms, std::chrono::milliseconds grace);

}  // namespace tvd::master

#include "tvd/master/eviction_deadlines.h"

#include <algorithm>
#include <map>
#include <optional>

namespace tvd::master {
namespace {

std::string Seconds(std::int64_t ms) {
  std::string s = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    s += "." + frac;
  }
  return s + " s";
}

}  // namespace

std::vector<OverdueHost> OverdueHosts(
    const std::vector<MemberInterval>& members,
    const std::vector<HostRow>& hosts, std::int64_t now_unix_ms,
    std::int64_t duty_since_unix_ms, std::chrono::milliseconds grace) {
  std::map<std::string, const HostRow*> by_name;
  for (const HostRow& h : hosts) by_name[h.name] = &h;
  struct Worst {
    std::int64_t deadline;
    std::string reason;
  };
  std::map<std::string, Worst> overdue;
  for (const MemberInterval& m : members) {
    auto it = by_name.find(m.host);
    const HostRow* row = it == by_name.end() ? nullptr : it->second;
    std::int64_t deadline;
    std::string reason;
    if (row == nullptr || row->attested_at <= 0) {
      deadline = duty_since_unix_ms + m.interval.count() + grace.count();
      reason = "no attestation stored; none within TVD " + m.tvd +
               "'s interval (" + Seconds(m.interval.count()) + ") + grace (" +
               Seconds(grace.count()) + ") since this master took the duty";
    } else if (row->attested) {
      deadline =
          (row->attested_at + 1) * 1000 + m.interval.count() + grace.count();
      reason = "no good attestation since " + std::to_string(row->attested_at) +
               " (unix s): TVD " + m.tvd + " re-attests every " +
               Seconds(m.interval.count()) + ", grace " +
               Seconds(grace.count());
    } else {
      deadline = (row->attested_at + 1) * 1000 + grace.count();
      reason = "attestation failed at " + std::to_string(row->attested_at) +
               " (unix s) and the host is still a member of TVD " + m.tvd +
               " after grace " + Seconds(grace.count());
    }
    // Never earlier than a full round after this replica took the duty: it
    // cannot know whether the hosts' replicas re-attested them meanwhile
    // (a restarted single master has its hosts coming back).
    std::int64_t floor =
        duty_since_unix_ms + grace.count() +
        (row != nullptr && row->attested_at > 0 && !row->attested
             ? 0
             : m.interval.count());
    deadline = std::max(deadline, floor);
    if (now_unix_ms <= deadline) continue;
    auto [slot, fresh] = overdue.try_emplace(m.host, Worst{deadline, reason});
    if (!fresh && deadline < slot->second.deadline) {
      slot->second = Worst{deadline, reason};
    }
  }
  std::vector<OverdueHost> out;
  for (auto& [host, w] : overdue) {
    out.push_back({host, std::move(w.reason),
                   std::chrono::milliseconds(now_unix_ms - w.deadline)});
  }
  return out;
}

}  // namespace tvd::master

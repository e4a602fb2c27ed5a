// Takeover after the lock holder dies, end to end: three real tvd-master
// replicas on a 3-server Raft store (all on this machine; the store servers
// in namespaces of their own), H simulated hosts (software TPMs) joined
// round-robin, a TVD that re-attests every --interval seconds. Each round
// kills the replica holding the singleton duties with SIGKILL and takes,
// from the kill:
//  - duties: until a surviving replica reports that it runs them
//    (AdminQuery "master": duties.held), i.e. eviction deadlines resume;
//  - channel lost: until each host of the killed replica sees its member
//    channel end;
//  - re-attested: until each of those hosts has a JoinGrant from a
//    surviving replica. A join verifies a fresh quote against the TVD's
//    requirements, so this is when its re-attestation resumed. The hosts
//    reconnect as tvd-proxy does (proxy::FailoverSchedule: the next
//    replica after a delay in [bound/2, bound], bound 1 s in the first
//    round, --first-bound-ms).
//  - takeover: the later of duties and the last host re-attested.
// After each round every host must be an attested, connected member on a
// survivor, at the epoch it had before (no leave, no rekey).
//
// Run: bench_master_takeover [--rounds 5] [--hosts 30] [--interval 2]
//          [--takeover-ms 3000] [--first-bound-ms 1000] [--master PATH]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host_pool.h"
#include "replica_set.h"
#include "sim_host.h"
#include "tvd/bench/must.h"
#include "tvd/proxy/failover_schedule.h"
#include "tvd/testing/test_policy.h"

namespace {

using namespace tvd;
using namespace tvd::bench;
using std::chrono::milliseconds;

constexpr const char* kTvd = "bench";
constexpr int kReplicas = 3;

struct Flags {
  std::string master_binary = TVD_MASTER_BINARY;
  int rounds = 5;
  int hosts = 30;
  int interval = 2;
  int takeover_ms = 3000;
  int first_bound_ms = 1000;
};

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Round {
  double duties = 0;
  double lost_last = 0;
  double reattested_first = 0;
  double reattested_last = 0;
  int stranded = 0;
  double takeover() const { return std::max(duties, reattested_last); }
};

// The TVD as replica `i` reports it: the members connected to it and
// attested, and the epoch.
struct TvdView {
  int members = 0;
  long epoch = -1;
};
StatusOr<TvdView> View(const ReplicaSet& set, int i) {
  TVD_ASSIGN_OR_RETURN(
      std::string reply,
      set.admin(i).Query({protocol::AdminQueryKind::kTvd, kTvd}));
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded()) return ProtocolError("admin reply is not JSON");
  TvdView v;
  v.epoch = j.value("epoch", -1L);
  for (const auto& m : j["members"]) {
    if (m.value("connected", false) && m.value("attested", false)) ++v.members;
  }
  return v;
}

// The hosts of the killed replica, each on a thread of its own: wait for
// the member channel to end, then rejoin as tvd-proxy does.
std::string Underlay(std::size_t i) {
  return "198.19." + std::to_string(i / 250) + "." +
         std::to_string(i % 250 + 1);
}

struct Rejoiner {
  SimHost* host = nullptr;
  std::string underlay;
  Clock::time_point lost{}, joined{};
  Status status = Unavailable("not done");
};

void Rejoin(Rejoiner& r, const ReplicaSet& set, int killed, int first_bound_ms,
            std::uint64_t seed, Clock::time_point deadline) {
  while (!r.host->served().has_value()) {
    if (Clock::now() > deadline) {
      r.status = Timeout("the member channel did not end");
      return;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  r.lost = Clock::now();
  r.host->StopServing();
  proxy::FailoverSchedule schedule(
      kReplicas, static_cast<std::size_t>(killed),
      {milliseconds(first_bound_ms), milliseconds(15000)});
  std::mt19937_64 random(seed);
  while (Clock::now() < deadline) {
    proxy::FailoverSchedule::Step step = schedule.Next();
    std::this_thread::sleep_for(
        proxy::FailoverSchedule::Jitter(step.bound, random()));
    r.host->Connect(set.endpoint(static_cast<int>(step.master)));
    auto grant = r.host->Join(kTvd, r.underlay);
    if (grant.ok()) {
      r.joined = Clock::now();
      r.status = Status::Ok();
      r.host->StartServing();
      return;
    }
    r.status = grant.status();
  }
}

StatusOr<Round> RunRound(const Flags& f, HostPool& pool,
                         const pki::KeyAndCertificate& ca,
                         const channel::TlsContext& admin_tls, int round) {
  auto& hosts = pool.hosts();
  MasterSetup setup;
  setup.binary = f.master_binary;
  setup.lock_takeover_ms = f.takeover_ms;
  std::vector<std::string> names;
  for (const auto& h : hosts) {
    setup.trusted_eks.emplace(h->name(), h->ek_digest());
    names.push_back(h->name());
  }
  TVD_ASSIGN_OR_RETURN(auto set,
                       ReplicaSet::Start(setup, kReplicas, ca, admin_tls));
  TVD_RETURN_IF_ERROR(set->AddTvd(
      kTvd, master::Policy(kTvd, 1, names, {Sha256Digest{}}, f.interval)));
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    hosts[i]->Connect(set->endpoint(static_cast<int>(i % kReplicas)));
    auto grant = hosts[i]->Join(kTvd, Underlay(i));
    if (!grant.ok()) return grant.status().WithContext(hosts[i]->name());
    hosts[i]->StartServing();
  }
  // The holder: the replica that runs the duties once the lock settled.
  int holder = -1;
  auto until = Clock::now() + std::chrono::seconds(30);
  while (holder < 0) {
    for (int k = 0; k < kReplicas && holder < 0; ++k) {
      if (set->HoldsDuties(k)) holder = k;
    }
    if (Clock::now() > until) return Timeout("no replica took the duties");
    if (holder < 0) std::this_thread::sleep_for(milliseconds(20));
  }
  TVD_ASSIGN_OR_RETURN(TvdView before, View(*set, (holder + 1) % kReplicas));
  // Let at least one re-attestation round pass everywhere first.
  std::this_thread::sleep_for(std::chrono::seconds(f.interval + 1));

  std::vector<Rejoiner> stranded;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (static_cast<int>(i % kReplicas) == holder) {
      stranded.push_back({hosts[i].get(), Underlay(i)});
    }
  }
  const auto killed_at = Clock::now();
  if (::kill(set->master(holder).pid(), SIGKILL) != 0) {
    return IoError(std::string("kill: ") + std::strerror(errno));
  }
  const auto deadline = killed_at + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < stranded.size(); ++i) {
    threads.emplace_back(Rejoin, std::ref(stranded[i]), std::cref(*set), holder,
                         f.first_bound_ms,
                         static_cast<std::uint64_t>(round * 1000 + i),
                         deadline);
  }
  Round r;
  r.stranded = static_cast<int>(stranded.size());
  // Duties: polled on the survivors as fast as their answers come.
  bool duties = false;
  while (!duties && Clock::now() < deadline) {
    for (int k = 0; k < kReplicas && !duties; ++k) {
      if (k != holder && set->HoldsDuties(k)) {
        duties = true;
        r.duties = Ms(Clock::now() - killed_at);
      }
    }
  }
  for (auto& t : threads) t.join();
  if (!duties) return Timeout("no survivor took the duties within 60 s");
  r.reattested_first = 1e300;
  for (const Rejoiner& s : stranded) {
    if (!s.status.ok()) {
      return s.status.WithContext(s.host->name() + " rejoining");
    }
    r.lost_last = std::max(r.lost_last, Ms(s.lost - killed_at));
    r.reattested_first = std::min(r.reattested_first, Ms(s.joined - killed_at));
    r.reattested_last = std::max(r.reattested_last, Ms(s.joined - killed_at));
  }
  // Nothing changed for the TVD: every host a connected, attested member
  // of one of the survivors (each reports the channels it holds), the
  // epoch as before.
  until = Clock::now() + std::chrono::seconds(30);
  int members = 0;
  long epoch = before.epoch;
  do {
    members = 0;
    for (int k = 0; k < kReplicas; ++k) {
      if (k == holder) continue;
      TVD_ASSIGN_OR_RETURN(TvdView v, View(*set, k));
      members += v.members;
      if (v.epoch != before.epoch) epoch = v.epoch;
    }
    if (members == static_cast<int>(hosts.size())) break;
    std::this_thread::sleep_for(milliseconds(50));
  } while (Clock::now() < until);
  if (members != static_cast<int>(hosts.size())) {
    return Internal("after the takeover " + std::to_string(members) + " of " +
                    std::to_string(hosts.size()) +
                    " hosts are connected, attested members of a survivor");
  }
  if (epoch != before.epoch) {
    return Internal("the epoch moved from " + std::to_string(before.epoch) +
                    " to " + std::to_string(epoch));
  }
  for (auto& h : hosts) h->StopServing();
  return r;
}

void PrintSeries(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("  %-34s min %7.0f  p50 %7.0f  max %7.0f ms\n", what, v.front(),
              v[v.size() / 2], v.back());
}

int Int(const char* flag, const char* v, int lo, int hi) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
    std::fprintf(stderr, "bench_master_takeover: %s: '%s' is not in %d..%d\n",
                 flag, v, lo, hi);
    std::exit(2);
  }
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--rounds")
      f.rounds = Int("--rounds", v, 1, 100), ++i;
    else if (a == "--hosts")
      f.hosts = Int("--hosts", v, 3, 1000), ++i;
    else if (a == "--interval")
      f.interval = Int("--interval", v, 1, 600), ++i;
    else if (a == "--takeover-ms")
      f.takeover_ms = Int("--takeover-ms", v, 1000, 60000), ++i;
    else if (a == "--first-bound-ms")
      f.first_bound_ms = Int("--first-bound-ms", v, 1, 15000), ++i;
    else if (a == "--master" && i + 1 < argc)
      f.master_binary = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: bench_master_takeover [--rounds N] [--hosts H] "
                   "[--interval S] [--takeover-ms L] [--first-bound-ms B] "
                   "[--master PATH]\n");
      return 2;
    }
  }
  auto ca = Must(pki::CreateCa("vdc-bench", pki::Validity::ForDays(1)), "CA");
  auto admin = Must(pki::IssueCertificate(ca, pki::Role::kAdmin, "alice",
                                          pki::Validity::ForDays(1)),
                    "admin certificate");
  auto admin_tls =
      Must(channel::TlsContext::Create(
               channel::TlsSide::kClient,
               {ca.cert_pem, admin.cert_pem, admin.key_pem.Clone()}),
           "admin TLS");
  HostPool pool;
  std::vector<std::string> names, netns;
  for (int i = 0; i < f.hosts; ++i) {
    names.push_back("node" + std::to_string(i));
  }
  if (Status s = pool.Create(names, netns, 2, ca, TpmUse::kSoftware); !s.ok()) {
    Die("creating the hosts", s);
  }
  std::printf(
      "takeover after kill -9 of the duty holder: 3 replicas, 3-server Raft "
      "store, %d hosts, re-attestation every %d s, lock_takeover_ms %d, "
      "first rejoin bound %d ms, %d rounds\n",
      f.hosts, f.interval, f.takeover_ms, f.first_bound_ms, f.rounds);
  std::vector<double> duties, lost, first, last, takeover;
  for (int round = 0; round < f.rounds; ++round) {
    Round r = Must(RunRound(f, pool, ca, *admin_tls, round),
                   "round " + std::to_string(round + 1));
    std::printf(
        "  round %d: duties %.0f ms; %d hosts lost their channel by %.0f ms, "
        "re-attested at a survivor %.0f..%.0f ms; takeover %.0f ms\n",
        round + 1, r.duties, r.stranded, r.lost_last, r.reattested_first,
        r.reattested_last, r.takeover());
    std::fflush(stdout);
    duties.push_back(r.duties);
    lost.push_back(r.lost_last);
    first.push_back(r.reattested_first);
    last.push_back(r.reattested_last);
    takeover.push_back(r.takeover());
  }
  PrintSeries("duties resumed on a survivor", duties);
  PrintSeries("last channel seen lost", lost);
  PrintSeries("first stranded host re-attested", first);
  PrintSeries("last stranded host re-attested", last);
  PrintSeries("takeover (later of the two)", takeover);
  return 0;
}

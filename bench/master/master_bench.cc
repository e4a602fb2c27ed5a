// tvd-master benchmark against the real tvd-master binary (a child process
// with its config in a private directory, stopped by PID). Prints figures;
// it asserts nothing and is not a test.
//
// 1. Join latency on namespace hosts: the master in its own network
//    namespace, H hosts each in its own namespace (veth to the master's),
//    each with its own swtpm. A host joins a TVD through
//    protocol::MasterClient (TLS 1.3 with its host certificate, AK
//    enrolment, TPM quote, verification, grant), then all leave; N rounds.
//    p50 / p99 / mean of join and of leave (until the master's kAck).
//    Once with the hosts' TPM opened as tvd-proxy does (per call, the EK
//    and AK contexts kept) and once re-creating the keys per call (the
//    baseline before the contexts were kept).
// 2. S simulated hosts (proxies without VMs: one MasterClient, host
//    certificate and swtpm each, in threads of this process) joining one
//    master at once: time until the master's admin query shows all S as
//    connected, attested members; master CPU time (utime + stime from
//    /proc/<pid>/stat) over that time; then the fan-out time of policy
//    updates: from just before the admin's TvdUpdate request is written
//    until the last member's MasterClient has read, decoded and handed on
//    the PolicyUpdate (its on_policy callback). Each update is measured in
//    two ways, taken in turn: on an admin channel opened before the
//    interval starts and held for all updates (protocol::AdminChannel:
//    the interval is the master's work, from the request on the wire to
//    the last member), and on a new admin connection per update
//    (protocol::AdminClient, as tvdctl: the interval also holds the TCP
//    connect and TLS handshake of both ends).
// 3. Baseline: the same S hosts joining a fresh master one after another;
//    the concurrent/sequential ratios of wall time and master CPU.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "host_pool.h"
#include "master_process.h"
#include "replica_set.h"
#include "sim_host.h"
#include "tvd/bench/must.h"
#include "tvd/log.h"
#include "tvd/protocol/admin_channel.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovsdb_cluster.h"
#include "tvd/testing/test_policy.h"

namespace tvd::bench {
namespace {

using std::chrono::milliseconds;

const pki::Identity kMasterId{pki::Role::kHost, "tvd-master"};
constexpr const char* kTvd = "bench";

struct Flags {
  std::string master_binary = TVD_MASTER_BINARY;
  int ns_hosts = 2;
  int iterations = 50;
  int sim_hosts = 200;
  int updates = 5;
  int interval = 600;
  int setup_threads = 4;
  // Joins of simulated hosts in progress at once (0: no limit). The
  // simulated hosts share this machine's cores with the master: thousands
  // of TLS handshakes started at once on two cores each take thousands of
  // times as long, run into the clients' own timeouts and are retried,
  // which measures the simulator thrashing rather than the master. Real
  // hosts each run their handshake on their own CPU.
  int sim_concurrency = 128;
  // Master replicas for the simulated hosts: 1 (SQLite), or R sharing an
  // R-server clustered OVSDB store, hosts spread over them in turn.
  std::vector<int> masters = {1};
  // Count-only simulated hosts (--sim-lists count): every 100th host keeps
  // its whole member list, the others a bit per simulated host
  // (SimHost::Connect), which leaves the benchmark's CPU and memory to the
  // master: 10,000 full lists of 10,000 entries take 13 GB.
  bool count_lists = false;
  // Hosts that leave one after another at the end of a concurrent run:
  // each leave rekeys the TVD, and the new key's fan-out to every other
  // member (a MembershipUpdate of ~100 bytes, against a PolicyUpdate that
  // carries the whole policy, which lists every host) is timed.
  int leaves = 0;
  int timeout_s = 600;
  bool skip_ns = false;
  bool skip_sim = false;
  bool skip_sequential = false;
  // The namespace hosts open their TPM per operation, as tvd-proxy does.
  // The simulated hosts keep it open: 200 swtpms on the benchmark's cores
  // would otherwise re-create 200 x 4 RSA primaries per round, work that
  // real hosts do on their own TPMs and CPUs (see docs/master.md).
  // Each mode is a separate round of namespace joins in the same run.
  std::vector<TpmUse> ns_tpms = {TpmUse::kPerCall, TpmUse::kPerCallUncached};
  TpmUse sim_tpm = TpmUse::kHeld;
};

const char* TpmUseName(TpmUse u) {
  switch (u) {
    case TpmUse::kPerCall:
      return "per-call";
    case TpmUse::kPerCallUncached:
      return "per-call-uncached";
    case TpmUse::kHeld:
      return "held";
    case TpmUse::kSoftware:
      return "soft";
  }
  return "?";
}

std::optional<TpmUse> ParseTpmUse(const std::string& v) {
  for (TpmUse u : {TpmUse::kPerCall, TpmUse::kPerCallUncached, TpmUse::kHeld,
                   TpmUse::kSoftware}) {
    if (v == TpmUseName(u)) return u;
  }
  return std::nullopt;
}

const char* kUsage =
    "usage: bench_master [--ns-hosts H] [--iterations N] [--ns-tpm MODE]\n"
    "                    [--sim-hosts S] [--updates U] [--sim-tpm MODE]\n"
    "                    [--interval SECONDS] [--setup-threads T]\n"
    "                    [--sim-concurrency C] [--masters R[,R...]]\n"
    "                    [--timeout SECONDS] [--skip-ns] [--skip-sim]\n"
    "                    [--skip-sequential] [--master PATH]\n"
    "                    [--sim-lists full|count] [--leaves L]\n"
    "MODE: per-call (open the TPM per operation, keys' contexts kept, as\n"
    "tvd-proxy), per-call-uncached (keys re-created per operation: the\n"
    "baseline), held, or soft (in-process software TPM, no swtpm: for\n"
    "thousands of simulated hosts)\n"
    "defaults: 2 hosts, 50 rounds, per-call then per-call-uncached;\n"
    "200 hosts, 5 updates, held;\n"
    "U policy updates are sent on one held admin channel and U more on a\n"
    "new admin connection each, in turn\n"
    "interval 600 s, 4 setup threads, timeout 600 s;\n"
    "C: joins of simulated hosts in progress at once (default 128, 0: all\n"
    "at once); the others wait their turn, as if their own CPUs were busy\n"
    "R: master replicas of the simulated hosts' runs, each list entry a run\n"
    "(default 1: one master on SQLite; R > 1: R masters on an R-server\n"
    "clustered OVSDB store, host i joining master i mod R), e.g. 1,3\n"
    "--sim-lists count: every 100th simulated host keeps its member list,\n"
    "the others a bit per simulated host, their count checked against the\n"
    "master's on every update and the set against all S at the end\n"
    "(default full: every host keeps its list)\n"
    "--leaves L: at the end of each concurrent run L hosts leave, one at a\n"
    "time; each leave's new key is timed until every other member has it\n";

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

long SelfMinorFaults() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

double SelfCpuSeconds() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

struct Summary {
  std::size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, min = 0, max = 0;
};

// Nearest-rank percentiles.
Summary Summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    auto i = static_cast<std::size_t>(std::ceil(p * v.size()));
    return v[std::max<std::size_t>(i, 1) - 1];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  s.min = v.front();
  s.max = v.back();
  return s;
}

void Print(const char* what, const Summary& s) {
  std::printf(
      "  %-28s n=%-4zu p50 %8.1f ms  p90 %8.1f ms  p99 %8.1f ms  "
      "mean %8.1f ms  min %8.1f  max %8.1f\n",
      what, s.n, s.p50, s.p90, s.p99, s.mean, s.min, s.max);
}

std::uint16_t FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::unique_ptr<channel::TlsContext> AdminTls(
    const pki::KeyAndCertificate& ca) {
  auto cert = Must(pki::IssueCertificate(ca, pki::Role::kAdmin, "bench-admin",
                                         pki::Validity::ForDays(1)),
                   "issue admin certificate");
  return Must(channel::TlsContext::Create(
                  channel::TlsSide::kClient,
                  {ca.cert_pem, cert.cert_pem, cert.key_pem.Clone()}),
              "admin TLS context");
}

// Retries an admin query until the master answers (it was just started).
// Members of the TVD the master reports as connected and attested.
StatusOr<int> ConnectedMembers(const protocol::AdminClient& admin) {
  TVD_ASSIGN_OR_RETURN(std::string reply,
                       admin.Query({protocol::AdminQueryKind::kTvd, kTvd}));
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded()) return ProtocolError("admin reply is not JSON");
  int n = 0;
  for (const auto& m : j["members"]) {
    if (m.value("connected", false) && m.value("attested", false)) ++n;
  }
  return n;
}

std::vector<std::string> Names(
    const std::vector<std::unique_ptr<SimHost>>& hosts) {
  std::vector<std::string> names;
  for (const auto& h : hosts) names.push_back(h->name());
  return names;
}

// ---- 1. join latency on namespace hosts ----

// Errors are returned (not exits) so that namespaces, swtpms and the
// master are removed on the way out.
Status RunNamespaceJoins(const Flags& f, TpmUse tpm_use,
                         const pki::KeyAndCertificate& ca,
                         const channel::TlsContext& admin_tls) {
  constexpr std::uint16_t kPort = 7400;
  TVD_ASSIGN_OR_RETURN(auto master_ns, testing::NetworkNamespace::Create(
                                           testing::UniqueName("bmm")));
  std::vector<testing::NetworkNamespace> host_ns;
  std::vector<std::string> names, ns_names;
  MasterSetup setup;
  setup.binary = f.master_binary;
  setup.netns = master_ns.name();
  setup.listen_address = "0.0.0.0";
  setup.port = kPort;
  for (int i = 0; i < f.ns_hosts; ++i) {
    TVD_ASSIGN_OR_RETURN(
        auto ns, testing::NetworkNamespace::Create(testing::UniqueName("bmh")));
    host_ns.push_back(std::move(ns));
    std::string a = testing::UniqueName("bva"), b = testing::UniqueName("bvb");
    TVD_RETURN_IF_ERROR(
        testing::CreateVethPair(a, master_ns.name(), b, host_ns[i].name()));
    std::string net = "198.18." + std::to_string(i) + ".";
    TVD_RETURN_IF_ERROR(
        master_ns.Run({"ip", "addr", "add", net + "1/24", "dev", a}));
    TVD_RETURN_IF_ERROR(
        host_ns[i].Run({"ip", "addr", "add", net + "2/24", "dev", b}));
    names.push_back("nshost" + std::to_string(i));
    ns_names.push_back(host_ns[i].name());
  }
  // Each host's swtpm runs inside that host's namespace.
  HostPool pool;
  TVD_RETURN_IF_ERROR(pool.Create(names, ns_names, 1, ca, tpm_use));
  auto& hosts = pool.hosts();
  for (const auto& h : hosts)
    setup.trusted_eks.emplace(h->name(), h->ek_digest());
  TVD_ASSIGN_OR_RETURN(auto master, MasterProcess::Start(setup, ca));
  for (int i = 0; i < f.ns_hosts; ++i) {
    hosts[i]->Connect({"198.18." + std::to_string(i) + ".1", kPort, kMasterId});
  }

  std::vector<double> joins, leaves;
  Status failure;
  // Sockets belong to the namespace of the thread that creates them: this
  // thread enters each host's namespace before that host joins or leaves.
  std::thread driver([&] {
    auto run = [&]() -> Status {
      TVD_RETURN_IF_ERROR(EnterNetns(host_ns[0].name()));
      protocol::AdminClient admin({"198.18.0.1", kPort, kMasterId}, admin_tls);
      TVD_RETURN_IF_ERROR(WaitForMaster(admin, *master));
      TVD_RETURN_IF_ERROR(
          admin
              .AddTvd(master::Policy(kTvd, 1, Names(hosts), {Sha256Digest{}},
                                     f.interval))
              .status());
      for (int it = 0; it < f.iterations; ++it) {
        for (int i = 0; i < f.ns_hosts; ++i) {
          TVD_RETURN_IF_ERROR(EnterNetns(host_ns[i].name()));
          auto t = Clock::now();
          auto g = hosts[i]->Join(kTvd, "198.18." + std::to_string(i) + ".2");
          joins.push_back(Ms(Clock::now() - t));
          if (!g.ok())
            return g.status().WithContext(hosts[i]->name() + " join");
          hosts[i]->StartServing();
        }
        for (int i = f.ns_hosts - 1; i >= 0; --i) {
          TVD_RETURN_IF_ERROR(EnterNetns(host_ns[i].name()));
          auto t = Clock::now();
          Status s = hosts[i]->Leave(kTvd);
          leaves.push_back(Ms(Clock::now() - t));
          if (!s.ok()) return s.WithContext(hosts[i]->name() + " leave");
          if (!hosts[i]->WaitServed(milliseconds(10000))) {
            return Timeout(hosts[i]->name() +
                           ": member channel still open after leave");
          }
        }
      }
      return Status::Ok();
    };
    failure = run();
  });
  driver.join();
  for (auto& h : hosts) h->StopServing();
  if (!failure.ok()) {
    return failure.WithContext("master log:\n" + master->Log());
  }
  std::printf(
      "\n[1] join latency, %d namespace hosts (own netns + veth to the "
      "master's netns, own swtpm opened %s), %d rounds of "
      "join-all/leave-all\n",
      f.ns_hosts, TpmUseName(tpm_use), f.iterations);
  Print("join (enrol+attest+grant)", Summarize(joins));
  Print("leave (until kAck)", Summarize(leaves));
  (void)master->Stop();
  return Status::Ok();
}

// ---- 2./3. many simulated hosts ----

struct JoinRun {
  double all_members_s = 0;  // start -> admin query shows S members
  int members = 0;           // members the admin query showed at the end
  double last_join_s = 0;    // start -> last Join() returned
  // start -> every host's member list holds all S (every update delivered);
  // 0 when not reached before the timeout.
  double lists_complete_s = 0;
  double master_cpu_s = 0;  // over all_members_s
  double swtpm_cpu_s = 0;   // all swtpms, same window
  double bench_cpu_s = 0;   // this process (clients), same window
  long bench_faults = 0;    // this process's minor page faults, same window
  long master_faults = 0;   // the masters' minor page faults, same window
  int failed = 0;
  std::string first_error;
  std::vector<double> join_ms;
  double membership_updates = 0;  // delivered to members by the end
  double membership_changes = 0;  // the member changes they carried
  int complete_lists = 0;     // hosts whose member list holds all S at the end
  int full_lists = 0;         // of those, hosts keeping the whole list
  int count_errors = 0;       // count-only hosts' counts off the master's
  long repeated_joins = 0;    // count-only: joins heard of members
  long unknown_removals = 0;  // count-only: removals heard of non-members
  int retries = 0;            // joins tried again after a failure
  bool by_lists = false;      // members counted from the hosts' lists
  std::string first_admin_error;
  std::string first_retry_reason;
  // Policy-update fan-out (only when asked for), [0] on the held admin
  // channel, [1] on a new admin connection per update.
  struct Fanout {
    int updates = 0;
    Summary ack, last, median;
    double master_cpu_s = 0;  // mean per update
  };
  Fanout fanout[2];
  // Rekey fan-out of --leaves: Leave() answered, and until the last /
  // the median remaining member has the new epoch.
  Summary leave_ack, leave_last, leave_median;
  int leaves = 0;
  int admin_connects = 0;        // of the held admin channel
  double idle_master_cores = 0;  // with every member connected, no news
};

double SwtpmCpu(const std::vector<std::unique_ptr<SimHost>>& hosts) {
  double sum = 0;
  for (const auto& h : hosts) {
    if (h->swtpm_pid() == 0) continue;
    auto c = ProcessCpuSeconds(h->swtpm_pid());
    if (c.ok()) sum += *c;
  }
  return sum;
}

// The master's CPU seconds so far; NaN (printed "nan") once it has gone.
double Cpu(MasterProcess& m) {
  auto c = m.CpuSeconds();
  return c.ok() ? *c : std::nan("");
}

std::string Underlay(int i) {
  return "198.19." + std::to_string(i / 250) + "." +
         std::to_string(i % 250 + 1);
}

// Starts a fresh master, adds the TVD, lets every host join (all at once or
// one after another) and serve; returns the figures. With `updates` > 0,
// then pushes that many policy updates and prints their fan-out.
// Whether the master behind `admin` knows TVD `tvd` (a replica learns it
// from the store).
bool KnowsTvd(const protocol::AdminClient& admin, const std::string& tvd) {
  auto reply = admin.Query({protocol::AdminQueryKind::kTvd, tvd});
  return reply.ok();
}

StatusOr<JoinRun> RunManyJoins(const Flags& f, HostPool& pool,
                               const pki::KeyAndCertificate& ca,
                               const channel::TlsContext& admin_tls,
                               bool concurrent, int updates, int replicas) {
  auto& hosts = pool.hosts();
  const int n = static_cast<int>(hosts.size());
  MasterSetup setup;
  setup.binary = f.master_binary;
  setup.listen_address = "127.0.0.1";
  // One member channel per host, and room for the admin's and the hosts'
  // request connections.
  setup.max_connections = std::max<std::size_t>(4096, 2 * hosts.size() + 64);
  for (const auto& h : hosts)
    setup.trusted_eks.emplace(h->name(), h->ek_digest());
  // Replicas share a clustered store (one server per replica, each in its
  // own namespace: tests/fixture/ovsdb_cluster) and its KEK.
  std::unique_ptr<testing::OvsdbCluster> cluster;
  const SecureBytes kek = SecureBytes::Random(32);
  if (replicas > 1) {
    TVD_ASSIGN_OR_RETURN(cluster, testing::OvsdbCluster::StartClustered(
                                      std::string(TVD_SOURCE_DIR) +
                                          "/tvd-master/tvd_master.ovsschema",
                                      replicas));
    setup.store = "ovsdb:";
    for (const std::string& r : cluster->remotes()) {
      setup.store += (setup.store == "ovsdb:" ? "" : ",") + r;
    }
    setup.kek = &kek;
  }
  std::vector<std::unique_ptr<MasterProcess>> masters;
  std::vector<protocol::MasterEndpoint> endpoints;
  std::vector<std::unique_ptr<protocol::AdminClient>> admins;
  for (int k = 0; k < replicas; ++k) {
    setup.port = FreeLoopbackPort();
    TVD_ASSIGN_OR_RETURN(auto m, MasterProcess::Start(setup, ca));
    endpoints.push_back({"127.0.0.1", setup.port, kMasterId});
    admins.push_back(std::make_unique<protocol::AdminClient>(
        endpoints.back(), admin_tls, milliseconds(60000)));
    TVD_RETURN_IF_ERROR(WaitForMaster(*admins.back(), *m));
    masters.push_back(std::move(m));
  }
  MasterProcess* master = masters.front().get();
  const protocol::MasterEndpoint& endpoint = endpoints.front();
  protocol::AdminClient& admin = *admins.front();
  TVD_RETURN_IF_ERROR(admin
                          .AddTvd(master::Policy(kTvd, 1, Names(hosts),
                                                 {Sha256Digest{}}, f.interval))
                          .status());
  // Every replica has the TVD (through its store watch) before hosts come.
  for (int k = 1; k < replicas; ++k) {
    auto until = Clock::now() + std::chrono::seconds(30);
    while (!KnowsTvd(*admins[k], kTvd)) {
      if (Clock::now() > until) {
        return Timeout("replica " + std::to_string(k) + " does not know TVD " +
                       kTvd + " 30 s after it was added");
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  for (int i = 0; i < n; ++i) {
    hosts[i]->Connect(endpoints[i % replicas], !f.count_lists || i % 100 == 0,
                      hosts.size());
  }
  // A host ends complete with every one of the S hosts a member: its list
  // holds S (MemberList checked every update), or, count-only, its set
  // of the S hosts (one bit each) is full and its count never differed
  // from the master's.
  auto complete = [&](const SimHost& h) {
    return h.member_count() == hosts.size() &&
           (h.full_list() || h.count_errors() == 0);
  };
  // CPU of every replica; members connected to any of them.
  auto cpu = [&] {
    double c = 0;
    for (auto& m : masters) c += Cpu(*m);
    return c;
  };
  auto master_faults = [&] {
    long n = 0;
    for (auto& m : masters) {
      auto f = ProcessMinorFaults(m->pid());
      if (f.ok()) n += *f;
    }
    return n;
  };
  auto connected = [&]() -> StatusOr<int> {
    int sum = 0;
    for (auto& a : admins) {
      TVD_ASSIGN_OR_RETURN(int c, ConnectedMembers(*a));
      sum += c;
    }
    return sum;
  };

  JoinRun r;
  r.join_ms.assign(n, -1);
  std::vector<Status> results(n);
  std::vector<Clock::time_point> ends(n);
  std::atomic<int> finished{0};
  std::mutex gate_m;
  std::condition_variable gate_cv;
  bool go = false;
  std::atomic<int> retries{0};
  // A host whose join fails tries again after 0.5 to 1.5 s, as tvd-proxy
  // retries its join every second, until the run's deadline: in a storm
  // the master may not get to every handshake within the client's timeout,
  // and convergence is the time until every host made it.
  // At most f.sim_concurrency attempts at once (see Flags). A mutex and
  // a condition, not std::counting_semaphore: libstdc++'s spins with
  // sched_yield, and thousands of waiting threads spinning took most of
  // the machine.
  struct Slots {
    std::mutex m;
    std::condition_variable cv;
    int free;
    void acquire() {
      std::unique_lock l(m);
      cv.wait(l, [&] { return free > 0; });
      --free;
    }
    void release() {
      {
        std::lock_guard l(m);
        ++free;
      }
      cv.notify_one();
    }
  } in_flight{{}, {}, f.sim_concurrency > 0 ? f.sim_concurrency : n + 1};
  auto join_one = [&](int i, Clock::time_point start) {
    std::minstd_rand jitter(static_cast<unsigned>(i) + 1);
    auto give_up = start + std::chrono::seconds(f.timeout_s);
    while (true) {
      in_flight.acquire();
      // The grant goes at once (SimHost keeps what it needs): this thread
      // may serve the host for the rest of the run.
      Status joined = hosts[i]->Join(kTvd, Underlay(i)).status();
      in_flight.release();
      auto end = Clock::now();
      ends[i] = end;
      r.join_ms[i] = Ms(end - start);
      results[i] = joined;
      if (joined.ok()) {
        if (!concurrent) {
          hosts[i]->StartServing();
          break;
        }
        // The joining thread serves the host from now on (until the
        // run's end stops it).
        ++finished;
        hosts[i]->Serve();
        return;
      }
      if (!concurrent || end >= give_up) break;
      if (retries++ == 0) {
        std::lock_guard l(gate_m);
        r.first_retry_reason = joined.ToString();
      }
      std::this_thread::sleep_for(milliseconds(500 + jitter() % 1000));
    }
    ++finished;
  };

  double cpu0 = cpu();
  double swtpm0 = SwtpmCpu(hosts);
  double self0 = SelfCpuSeconds();
  long faults0 = SelfMinorFaults();
  long master_faults0 = master_faults();
  Clock::time_point t0;
  std::vector<std::thread> joiners;
  // The joiners serve their hosts until the run ends, here or at an early
  // return: all told to stop at once, then joined.
  struct StopJoiners {
    std::vector<std::unique_ptr<SimHost>>& hosts;
    std::vector<std::thread>& joiners;
    void Now() {
      for (auto& h : hosts) h->RequestStop();
      for (auto& j : joiners) j.join();
      joiners.clear();
    }
    ~StopJoiners() { Now(); }
  } stop_joiners{hosts, joiners};
  if (concurrent) {
    for (int i = 0; i < n; ++i) {
      joiners.emplace_back([&, i] {
        {
          std::unique_lock l(gate_m);
          gate_cv.wait(l, [&] { return go; });
        }
        join_one(i, t0);
      });
    }
    {
      std::lock_guard l(gate_m);
      t0 = Clock::now();
      go = true;
    }
    gate_cv.notify_all();
  } else {
    t0 = Clock::now();
    for (int i = 0; i < n; ++i) join_one(i, Clock::now());
  }
  // Done when the master itself reports every host as a connected, attested
  // member. Asked only once every Join() has returned, as in the sequential
  // run, so the queries' own cost (a few ms of master CPU each with 200
  // members) stays out of the concurrent figure too.
  auto deadline = t0 + std::chrono::seconds(f.timeout_s);
  while (finished < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  int ok = 0;
  for (int i = 0; i < n && finished == n; ++i) ok += results[i].ok();
  int members = 0;
  // When the admin's query fails (a master whose reply about 10,000 members
  // exceeded an older client's limit): the hosts' own view counts, every
  // host's member list holding all S (which needs every join decided and
  // announced to every member).
  bool by_lists = false;
  while (Clock::now() < deadline) {
    if (!by_lists) {
      auto c = connected();
      if (c.ok()) members = *c;
      if (!c.ok() && ok == n) {
        by_lists = true;
        r.first_admin_error = c.status().ToString();
      }
    }
    if (by_lists) {
      members = 0;
      for (const auto& h : hosts) members += complete(*h);
    }
    if (members == n || (ok < n && members >= ok)) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  r.by_lists = by_lists;
  auto t1 = Clock::now();
  r.master_cpu_s = cpu() - cpu0;
  r.swtpm_cpu_s = SwtpmCpu(hosts) - swtpm0;
  r.bench_cpu_s = SelfCpuSeconds() - self0;
  r.bench_faults = SelfMinorFaults() - faults0;
  r.master_faults = master_faults() - master_faults0;
  r.all_members_s = Ms(t1 - t0) / 1000;
  r.retries = retries;
  for (int i = 0; i < n; ++i) {
    if (!results[i].ok()) {
      ++r.failed;
      if (r.first_error.empty()) {
        r.first_error = hosts[i]->name() + ": " + results[i].ToString();
      }
    }
  }
  r.last_join_s = Ms(*std::max_element(ends.begin(), ends.end()) - t0) / 1000;
  r.members = members;
  if (members != n) {
    std::printf(
        "  !! only %d of %d hosts became members (%d joins failed; "
        "first: %s)\n",
        members, n, r.failed, r.first_error.c_str());
  }

  // The members still hear of the last joins after the admin sees them all:
  // the idle figure and the fan-outs below start once every host's list is
  // complete, so they measure a settled TVD, not that backlog.
  while (members == n && Clock::now() < deadline) {
    int complete_lists = 0;
    for (const auto& h : hosts) complete_lists += complete(*h);
    if (complete_lists == n) {
      r.lists_complete_s = Ms(Clock::now() - t0) / 1000;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  {
    // The master's cost of just holding the member channels.
    constexpr auto kIdle = std::chrono::seconds(3);
    double c0 = cpu();
    std::this_thread::sleep_for(kIdle);
    r.idle_master_cores = (cpu() - c0) / 3.0;
  }
  if (updates > 0 && r.failed == 0) {
    // Opened here, outside every timed interval; the master keeps an idle
    // admin connection for its read timeout (10 s), far longer than the
    // 200 ms between updates.
    protocol::AdminChannel held(endpoint, admin_tls, milliseconds(60000));
    TVD_RETURN_IF_ERROR(held.Connect().WithContext("admin channel"));
    std::vector<double> fanouts[2], medians[2], acks[2], cpus[2];
    bool stopped = false;
    auto held_used = Clock::now();
    for (int k = 1; k <= 2 * updates && !stopped; ++k) {
      const int way = (k - 1) % 2;  // 0: held channel, 1: new connection
      std::string xml = master::Policy(kTvd, 1, Names(hosts), {Sha256Digest{}},
                                       f.interval + k);
      // The master closes an admin connection idle for its read timeout
      // (10 s): with fan-outs of seconds, the held channel idles that long
      // between its turns and would find itself closed. Opened again
      // here, outside the interval, when it has been idle for 5 s.
      if (way == 0 && Clock::now() - held_used > std::chrono::seconds(5)) {
        held.Close();
        TVD_RETURN_IF_ERROR(held.Connect().WithContext("admin channel"));
      }
      double c0 = cpu();
      // The interval starts here: the request is not yet written (and, on
      // a new connection, the connection not yet opened).
      auto sent = Clock::now();
      auto reply = way == 0 ? held.UpdateTvd(xml) : admin.UpdateTvd(xml);
      if (!reply.ok()) {
        // Printed, not returned: the figures so far still count.
        std::printf("  !! policy update %d: %s\n", k,
                    reply.status().ToString().c_str());
        break;
      }
      acks[way].push_back(Ms(Clock::now() - sent));
      if (way == 0) held_used = Clock::now();
      auto until = Clock::now() + std::chrono::seconds(60);
      bool all = false;
      while (!all && Clock::now() < until) {
        all = true;
        for (const auto& h : hosts) all = all && h->policy_updates() >= k;
        if (!all) std::this_thread::sleep_for(milliseconds(1));
      }
      cpus[way].push_back(cpu() - c0);
      if (!all) {
        std::printf(
            "  !! policy update %d did not reach every member in 60 s\n", k);
        stopped = true;
        break;
      }
      // The interval ends when the last member has it.
      std::vector<double> arrivals;
      for (const auto& h : hosts)
        arrivals.push_back(Ms(h->last_policy_at() - sent));
      Summary a = Summarize(arrivals);
      fanouts[way].push_back(a.max);
      medians[way].push_back(a.p50);
      std::this_thread::sleep_for(milliseconds(200));
    }
    for (int way = 0; way < 2; ++way) {
      JoinRun::Fanout& out = r.fanout[way];
      out.updates = static_cast<int>(fanouts[way].size());
      out.ack = Summarize(acks[way]);
      out.last = Summarize(fanouts[way]);
      out.median = Summarize(medians[way]);
      out.master_cpu_s =
          cpus[way].empty()
              ? 0
              : std::accumulate(cpus[way].begin(), cpus[way].end(), 0.0) /
                    cpus[way].size();
    }
    r.admin_connects = held.connects();
  }
  // Joins announced late still count.
  std::this_thread::sleep_for(milliseconds(500));
  for (const auto& h : hosts) {
    r.membership_updates += h->membership_updates();
    r.membership_changes += static_cast<double>(h->membership_changes());
    if (complete(*h)) {
      ++r.complete_lists;
      r.full_lists += h->full_list();
    }
    r.count_errors += h->count_errors();
    r.repeated_joins += h->repeated_joins();
    r.unknown_removals += h->unknown_removals();
  }
  if (f.leaves > 0 && r.failed == 0) {
    // The last L hosts leave, one at a time, after a quiet window (so each
    // new key leaves at once rather than at the next window tick).
    std::vector<double> acks, lasts, medians;
    for (int k = 0; k < f.leaves && k < n - 1; ++k) {
      SimHost& leaving = *hosts[n - 1 - k];
      std::uint64_t before = 0;
      for (int i = 0; i < n - 1 - k; ++i)
        before = std::max(before, hosts[i]->epoch());
      std::this_thread::sleep_for(milliseconds(1100));
      auto sent = Clock::now();
      Status left = leaving.Leave(kTvd);
      if (!left.ok()) {
        std::printf("  !! leave %d: %s\n", k + 1, left.ToString().c_str());
        break;
      }
      acks.push_back(Ms(Clock::now() - sent));
      auto until = Clock::now() + std::chrono::seconds(60);
      bool all = false;
      while (!all && Clock::now() < until) {
        all = true;
        for (int i = 0; i < n - 1 - k && all; ++i)
          all = hosts[i]->epoch() > before;
        if (!all) std::this_thread::sleep_for(milliseconds(1));
      }
      if (!all) {
        std::printf(
            "  !! leave %d: the new key did not reach every member "
            "in 60 s\n",
            k + 1);
        break;
      }
      std::vector<double> arrivals;
      for (int i = 0; i < n - 1 - k; ++i)
        arrivals.push_back(Ms(hosts[i]->epoch_at() - sent));
      Summary a = Summarize(arrivals);
      lasts.push_back(a.max);
      medians.push_back(a.p50);
      (void)leaving.WaitServed(milliseconds(5000));
    }
    r.leaves = static_cast<int>(lasts.size());
    r.leave_ack = Summarize(acks);
    r.leave_last = Summarize(lasts);
    r.leave_median = Summarize(medians);
  }
  // All told at once: one after another, thousands of serving threads
  // would take their stop check (SimHost: 2 s) each. They end on that
  // check, before the masters stop: stopped first, a master would close
  // every member channel at once and wake all 10,000 serving threads
  // together (a load average above 700 after the run).
  for (auto& h : hosts) h->RequestStop();
  for (auto& h : hosts) h->StopServing();
  stop_joiners.Now();
  for (auto& m : masters) (void)m->Stop();
  (void)master;
  return r;
}

void PrintLeaves(const JoinRun& r, int n) {
  if (r.leaves == 0) return;
  std::printf(
      "  rekey fan-out: %d hosts left one at a time, each new key to the "
      "other %d to %d members (interval: Leave() called -> member has the "
      "new epoch):\n",
      r.leaves, n - r.leaves, n - 1);
  Print("Leave() answered (ack)", r.leave_ack);
  Print("last member has the key", r.leave_last);
  Print("median member has it", r.leave_median);
}

void PrintRun(const char* title, const JoinRun& r, int n) {
  std::printf("%s\n", title);
  std::printf("  %3d of %3d members (%s)     %8.2f s\n", r.members, n,
              r.by_lists ? "every host's list" : "admin", r.all_members_s);
  if (r.by_lists) {
    std::printf("  (the admin query failed: %s)\n",
                r.first_admin_error.c_str());
  }
  std::printf("  last Join() returned          %8.2f s\n", r.last_join_s);
  std::printf("  every member's list complete  %8.2f s\n", r.lists_complete_s);
  std::printf("  master CPU (utime+stime)      %8.2f s  (%.1f ms per host)\n",
              r.master_cpu_s, 1000 * r.master_cpu_s / n);
  std::printf("  masters' minor page faults   %10ld\n", r.master_faults);
  std::printf("  swtpm CPU, all %3d processes   %8.2f s\n", n, r.swtpm_cpu_s);
  std::printf("  client side CPU (this process)%8.2f s\n", r.bench_cpu_s);
  std::printf("  its minor page faults       %10ld\n", r.bench_faults);
  std::printf(
      "  cores these used on average   %8.2f\n",
      (r.master_cpu_s + r.swtpm_cpu_s + r.bench_cpu_s) / r.all_members_s);
  std::printf("  joins tried again             %8d%s%s\n", r.retries,
              r.retries > 0 ? "  first because: " : "",
              r.first_retry_reason.c_str());
  std::printf("  MembershipUpdates delivered   %8.0f\n", r.membership_updates);
  std::printf("  member changes they carried   %8.0f  (S(S-1)/2 = %.0f)\n",
              r.membership_changes, n * (n - 1.0) / 2);
  std::printf(
      "  member lists holding all %d   %8d  (%d full lists, %d "
      "count-only sets; %d counts off the master's)\n",
      n, r.complete_lists, r.full_lists, r.complete_lists - r.full_lists,
      r.count_errors);
  if (r.repeated_joins > 0 || r.unknown_removals > 0) {
    std::printf(
        "  count-only hosts heard        %8ld joins of members, %ld "
        "removals of non-members (no change)\n",
        r.repeated_joins, r.unknown_removals);
  }
  std::printf("  master CPU idle, all members  %8.1f %% of a core\n",
              100 * r.idle_master_cores);
  Print("per-host join", Summarize(r.join_ms));
  for (int way = 0; way < 2; ++way) {
    const JoinRun::Fanout& u = r.fanout[way];
    if (u.updates == 0) continue;
    std::printf("  policy update fan-out to %d members, %d updates ", n,
                u.updates);
    if (way == 0) {
      std::printf(
          "on one held admin channel (%d connect for all; interval: request "
          "written -> last member has it):\n",
          r.admin_connects);
    } else {
      std::printf(
          "on a new admin connection each (interval: TCP connect + TLS "
          "handshake + request -> last member has it):\n");
    }
    Print("UpdateTvd answered (ack)", u.ack);
    Print("last member has it", u.last);
    Print("median member has it", u.median);
    std::printf("  master CPU per update (mean)  %8.1f ms\n",
                1000 * u.master_cpu_s);
  }
  PrintLeaves(r, n);
}

// Every simulated host holds a connection in this process and in the
// master (a child, which inherits the limit): thousands of descriptors.
void RaiseFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

int Main(int argc, char** argv) {
  RaiseFileLimit();
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_master: %s needs a value\n%s", a.c_str(),
                     kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&]() {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0 || n > 100000) {
        std::fprintf(stderr, "bench_master: %s: '%s' is not a count\n",
                     a.c_str(), v.c_str());
        std::exit(2);
      }
      return static_cast<int>(n);
    };
    if (a == "--ns-hosts")
      f.ns_hosts = number();
    else if (a == "--iterations")
      f.iterations = number();
    else if (a == "--sim-hosts")
      f.sim_hosts = number();
    else if (a == "--updates")
      f.updates = number();
    else if (a == "--interval")
      f.interval = number();
    else if (a == "--setup-threads")
      f.setup_threads = std::max(1, number());
    else if (a == "--sim-concurrency")
      f.sim_concurrency = number();
    else if (a == "--masters") {
      // A comma list of replica counts, each 1..5: one run per entry.
      std::string v = i + 1 < argc ? argv[++i] : "";
      f.masters.clear();
      std::stringstream list(v);
      std::string one;
      while (std::getline(list, one, ',')) {
        char* end = nullptr;
        long r = std::strtol(one.c_str(), &end, 10);
        if (end == one.c_str() || *end != '\0' || r < 1 || r > 5) {
          std::fprintf(stderr,
                       "bench_master: --masters: '%s' is not a list of "
                       "replica counts 1..5\n",
                       v.c_str());
          std::exit(2);
        }
        f.masters.push_back(static_cast<int>(r));
      }
      if (f.masters.empty()) {
        std::fprintf(stderr, "bench_master: --masters: empty list\n");
        std::exit(2);
      }
    } else if (a == "--timeout")
      f.timeout_s = number();
    else if (a == "--master")
      f.master_binary = value();
    else if (a == "--leaves")
      f.leaves = number();
    else if (a == "--sim-lists") {
      std::string v = value();
      if (v != "full" && v != "count") {
        std::fprintf(stderr, "bench_master: --sim-lists is full or count\n");
        return 2;
      }
      f.count_lists = v == "count";
    } else if (a == "--ns-tpm" || a == "--sim-tpm") {
      std::optional<TpmUse> use = ParseTpmUse(value());
      if (!use) {
        std::fprintf(stderr,
                     "bench_master: %s is per-call, per-call-uncached, "
                     "held or soft\n",
                     a.c_str());
        return 2;
      }
      if (a == "--ns-tpm") {
        f.ns_tpms = {*use};
      } else {
        f.sim_tpm = *use;
      }
    } else if (a == "--skip-ns")
      f.skip_ns = true;
    else if (a == "--skip-sim")
      f.skip_sim = true;
    else if (a == "--skip-sequential")
      f.skip_sequential = true;
    else if (a == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "bench_master: unknown option %s\n%s", a.c_str(),
                   kUsage);
      return 2;
    }
  }
  log::SetLevel(log::Level::kError);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Each simulated host holds a TLS socket and a TPM socket.
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);

  std::printf("bench_master: tvd-master %s, %u CPUs, load average %s\n",
              f.master_binary.c_str(), std::thread::hardware_concurrency(),
              LoadAverage().c_str());
  std::printf(
      "policy: TVD '%s', PCR 16 (SHA-256) must be all zeros, "
      "re-attestation interval %d s\n",
      kTvd, f.interval);
  auto ca =
      Must(pki::CreateCa("vdc-bench", pki::Validity::ForDays(1)), "create CA");
  auto admin_tls = AdminTls(ca);

  if (!f.skip_ns && f.ns_hosts > 0 && f.iterations > 0) {
    for (TpmUse use : f.ns_tpms) {
      Status s = RunNamespaceJoins(f, use, ca, *admin_tls);
      if (!s.ok()) {
        std::fprintf(stderr, "bench_master: namespace joins: %s\n",
                     s.ToString().c_str());
        return 1;
      }
      std::printf("  load average after: %s\n", LoadAverage().c_str());
    }
  }
  if (!f.skip_sim && f.sim_hosts > 0) {
    auto setup_start = Clock::now();
    HostPool pool;
    std::vector<std::string> names;
    for (int i = 0; i < f.sim_hosts; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "sim%05d", i);
      names.push_back(name);
    }
    auto fail = [](const char* what, const Status& s) {
      std::fprintf(stderr, "bench_master: %s: %s\n", what,
                   s.ToString().c_str());
      return 1;
    };
    if (Status s = pool.Create(names, {}, f.setup_threads, ca, f.sim_tpm);
        !s.ok()) {
      return fail("create hosts", s);
    }
    std::printf(
        "\nsimulated hosts: %d, each with its own host certificate, %s and "
        "one MasterClient in a thread of this process; set up in %.1f s\n",
        f.sim_hosts,
        f.sim_tpm == TpmUse::kSoftware
            ? "an in-process software TPM (own ECC P-256 AK, one RSA-2048 EK "
              "shared by all)"
            : (std::string("its own swtpm process (own EK, RSA-2048 AK; "
                           "opened ") +
               TpmUseName(f.sim_tpm) + ")")
                  .c_str(),
        Ms(Clock::now() - setup_start) / 1000);
    if (f.sim_concurrency > 0) {
      std::printf("at most %d joins in progress at once (--sim-concurrency)\n",
                  f.sim_concurrency);
    } else {
      std::printf("every join in progress at once (--sim-concurrency 0)\n");
    }
    JoinRun seq;
    if (!f.skip_sequential) {
      auto run = RunManyJoins(f, pool, ca, *admin_tls, false, 0, 1);
      if (!run.ok()) return fail("one after another", run.status());
      seq = std::move(*run);
      PrintRun("\n[3] baseline: one after another, fresh master", seq,
               f.sim_hosts);
      std::printf("  load average after: %s\n", LoadAverage().c_str());
    }
    // One concurrent run per replica count, in the order given.
    std::vector<std::pair<int, JoinRun>> runs;
    for (int replicas : f.masters) {
      auto run =
          RunManyJoins(f, pool, ca, *admin_tls, true, f.updates, replicas);
      if (!run.ok()) return fail("all at once", run.status());
      std::string title =
          replicas == 1
              ? std::string("\n[2] all at once, fresh master")
              : "\n[2] all at once, " + std::to_string(replicas) +
                    " fresh master replicas on a " + std::to_string(replicas) +
                    "-server OVSDB cluster (host i joins replica i "
                    "mod " +
                    std::to_string(replicas) + ")";
      PrintRun(title.c_str(), *run, f.sim_hosts);
      std::printf("  load average after: %s\n", LoadAverage().c_str());
      runs.emplace_back(replicas, std::move(*run));
    }
    for (std::size_t k = 1; k < runs.size(); ++k) {
      const JoinRun& a = runs[0].second;
      const JoinRun& b = runs[k].second;
      auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
      std::printf(
          "\n%d replicas / %d: time until all are members %.2f, master CPU "
          "(all replicas) %.2f, fan-out to the last member p50 %.2f and p99 "
          "%.2f (held admin channel)\n",
          runs[k].first, runs[0].first, ratio(b.all_members_s, a.all_members_s),
          ratio(b.master_cpu_s, a.master_cpu_s),
          ratio(b.fanout[0].last.p50, a.fanout[0].last.p50),
          ratio(b.fanout[0].last.p99, a.fanout[0].last.p99));
    }
    const JoinRun& con = runs.front().second;
    if (!f.skip_sequential && seq.all_members_s > 0 && seq.master_cpu_s > 0) {
      std::printf(
          "\nconcurrent / sequential: wall time %.2f, master CPU %.2f\n",
          con.all_members_s / seq.all_members_s,
          con.master_cpu_s / seq.master_cpu_s);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tvd::bench

int main(int argc, char** argv) { return tvd::bench::Main(argc, argv); }

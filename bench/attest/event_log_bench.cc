// Event-log verification per host, as the master would do it for each
// quote of a host under a measured-boot policy: parse the binary log,
// replay PCRs 0-7, compare with the quoted values, check the policy. Pure
// CPU (no TPM): each host's log and policy come from MakeTypicalBoot with
// its own seed, so hosts differ in every digest. Measured is the CPU time
// of the thread, per host, over the whole set of hosts, repeated; the
// median and p99 of the per-host figures are printed, then the parts.
// A hostile log at the parser's limits (1 MiB, 4096 events) is timed too:
// the most one piece of evidence can cost.
//
// Run: bench_event_log [--events 100] [--hosts 200] [--rounds 20]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tvd/attest/event_log.h"
#include "tvd/attest/event_log_builder.h"
#include "tvd/attest/measured_boot.h"
#include "tvd/bench/cpu_time.h"

namespace tvd::attest {
namespace {

using bench::ThreadCpuMicros;

struct Host {
  std::vector<std::uint8_t> log;
  std::vector<PcrValue> quoted;
  MeasuredBootPolicy policy;
};

struct Figures {
  std::vector<double> us;
  double Percentile(double p) {
    std::sort(us.begin(), us.end());
    std::size_t i = static_cast<std::size_t>(p * (us.size() - 1));
    return us[i];
  }
};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "bench_event_log: %s\n", what.c_str());
  std::exit(1);
}

// Runs `step` on every host `rounds` times; returns the per-host CPU
// times in microseconds (each the average over one pass of all hosts, so
// the clock's resolution does not dominate).
template <typename Step>
Figures Measure(std::vector<Host>& hosts, int rounds, Step step) {
  Figures f;
  for (int r = 0; r < rounds; ++r) {
    for (Host& h : hosts) {
      double start = ThreadCpuMicros();
      constexpr int kRepeat = 10;
      for (int i = 0; i < kRepeat; ++i) step(h);
      f.us.push_back((ThreadCpuMicros() - start) / kRepeat);
    }
  }
  return f;
}

void Print(const char* what, Figures f) {
  std::printf("  %-44s p50 %8.1f us   p99 %8.1f us\n", what, f.Percentile(0.5),
              f.Percentile(0.99));
}

int Main(int argc, char** argv) {
  std::size_t events = 100;
  int host_count = 200, rounds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) {
      events = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--hosts") == 0) {
      host_count = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--rounds") == 0) {
      rounds = std::atoi(argv[i + 1]);
    } else {
      Fail(std::string("unknown option ") + argv[i]);
    }
  }
  if (events < 40 || host_count < 1 || rounds < 1) Fail("bad arguments");

  std::vector<Host> hosts;
  for (int i = 0; i < host_count; ++i) {
    SyntheticBoot boot = MakeTypicalBoot("host-" + std::to_string(i), events);
    Host h;
    h.log = boot.log.bytes();
    EventLogPcrs pcrs = boot.log.pcrs();
    for (std::uint32_t p = 0; p < 24; ++p) {
      h.quoted.push_back({p, p < kEventLogPcrs ? pcrs[p] : Sha256Digest{}});
    }
    h.policy = std::move(boot.policy);
    hosts.push_back(std::move(h));
  }
  std::printf(
      "event-log verification: %d hosts, %zu events, %zu bytes per "
      "log, %d rounds\n",
      host_count, events, hosts[0].log.size(), rounds);

  auto whole = [](Host& h) {
    auto log = ParseEventLog(h.log);
    if (!log.ok()) Fail(log.status().message());
    Status s = CheckEventLogReplay(ReplayEventLog(*log), h.quoted);
    if (s.ok()) s = CheckMeasuredBoot(*log, h.policy);
    if (!s.ok()) Fail(s.message());
  };
  whole(hosts[0]);  // warm up
  Print("parse + replay + compare + policy (per host)",
        Measure(hosts, rounds, whole));
  Print("parse", Measure(hosts, rounds, [](Host& h) {
          if (!ParseEventLog(h.log).ok()) Fail("parse");
        }));
  std::vector<EventLog> parsed;
  for (Host& h : hosts) parsed.push_back(*ParseEventLog(h.log));
  auto parsed_of = [&](const Host& h) -> const EventLog& {
    return parsed[static_cast<std::size_t>(&h - hosts.data())];
  };
  Print("replay PCRs 0-7 + compare with the quote",
        Measure(hosts, rounds, [&](Host& h) {
          const EventLog& log = parsed_of(h);
          if (!CheckEventLogReplay(ReplayEventLog(log), h.quoted).ok()) {
            Fail("replay");
          }
        }));
  Print("measured-boot policy check", Measure(hosts, rounds, [&](Host& h) {
          if (!CheckMeasuredBoot(parsed_of(h), h.policy).ok()) Fail("policy");
        }));

  // Near the largest log the parser takes: 4095 events of 256 bytes
  // (about 180 bytes of data), all data-bound so the policy check hashes
  // every byte of data.
  EventLogBuilder big;
  std::string filler(176, 'x');
  for (std::size_t i = 1; i < kMaxEventLogEvents; ++i) {
    big.Action(static_cast<std::uint32_t>(i % 8), filler + std::to_string(i));
  }
  std::vector<Host> hostile(1);
  hostile[0].log = big.bytes();
  EventLogPcrs pcrs = big.pcrs();
  for (std::uint32_t p = 0; p < kEventLogPcrs; ++p) {
    hostile[0].quoted.push_back({p, pcrs[p]});
  }
  std::printf("hostile log at the limits: %zu events, %zu bytes\n",
              kMaxEventLogEvents - 1, hostile[0].log.size());
  Print("parse + replay + compare + policy", Measure(hostile, rounds, whole));
  return 0;
}

}  // namespace
}  // namespace tvd::attest

int main(int argc, char** argv) { return tvd::attest::Main(argc, argv); }

// Tunnel set-up time between two test hosts: EnsureTunnel on the responder,
// then on the initiator, until both CHILD_SAs are installed on the
// initiator (EnsureTunnel returns only then). Each iteration removes the
// tunnel on both ends afterwards (not timed). Needs root (namespaces).
//
//   vici_tunnel_setup_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>

#include "tvd/testing/charon.h"
#include "tvd/testing/netns.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace {

using tvd::testing::CharonInstance;
using tvd::testing::NetworkNamespace;

struct TestHost {
  NetworkNamespace ns;
  std::unique_ptr<CharonInstance> charon;
  std::unique_ptr<tvd::vici::ViciTunnelBackend> backend;
};

void Check(const tvd::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s.ToString() << "\n";
    std::exit(1);
  }
}

tvd::vswitch::TunnelSpec Spec(bool on_a, const tvd::SecureBytes& psk) {
  tvd::vswitch::TunnelSpec s;
  s.tvd = "bench";
  s.tvd_id = 42;
  s.local_host = on_a ? "h1" : "h2";
  s.peer_host = on_a ? "h2" : "h1";
  s.local_address = on_a ? "198.18.0.1" : "198.18.0.2";
  s.peer_address = on_a ? "198.18.0.2" : "198.18.0.1";
  s.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};
  s.esp_proposals = {"aes256gcm16"};
  s.psk = &psk;
  s.initiator = on_a;
  return s;
}

void BM_TunnelSetup(benchmark::State& state) {
  TestHost a, b;
  auto na = NetworkNamespace::Create(tvd::testing::UniqueName("bvA"));
  auto nb = NetworkNamespace::Create(tvd::testing::UniqueName("bvB"));
  Check(na.ok() ? tvd::Status::Ok() : na.status(), "netns");
  Check(nb.ok() ? tvd::Status::Ok() : nb.status(), "netns");
  a.ns = std::move(na).value();
  b.ns = std::move(nb).value();
  Check(tvd::testing::CreateVethPair("ua", a.ns.name(), "ub", b.ns.name()),
        "veth");
  Check(a.ns.Run({"ip", "addr", "add", "198.18.0.1/24", "dev", "ua"}), "addr");
  Check(b.ns.Run({"ip", "addr", "add", "198.18.0.2/24", "dev", "ub"}), "addr");
  for (TestHost* h : {&a, &b}) {
    auto c = CharonInstance::Start(h->ns);
    Check(c.ok() ? tvd::Status::Ok() : c.status(), "charon");
    h->charon = std::move(c).value();
    auto be = tvd::vici::ViciTunnelBackend::Connect(h->charon->vici_socket());
    Check(be.ok() ? tvd::Status::Ok() : be.status(), "backend");
    h->backend = std::move(be).value();
  }
  tvd::SecureBytes psk = tvd::SecureBytes::Random(32);
  for (auto _ : state) {
    Check(b.backend->EnsureTunnel(Spec(false, psk)), "responder");
    Check(a.backend->EnsureTunnel(Spec(true, psk)), "initiator");
    state.PauseTiming();
    Check(a.backend->RemoveTunnel("tvd-bench-h2"), "remove a");
    Check(b.backend->RemoveTunnel("tvd-bench-h1"), "remove b");
    state.ResumeTiming();
  }
  for (TestHost* h : {&a, &b}) {
    h->backend.reset();
    h->charon.reset();
  }
}
BENCHMARK(BM_TunnelSetup)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace

BENCHMARK_MAIN();

// rm-server throughput and query latency.
//
// One in-process RmServer on loopback TCP with CURVE and N allow-listed agent
// keys. N DEALER sockets (one per simulated agent, each its own CURVE
// session) register, then send status updates round-robin for S seconds,
// each socket keeping at most a few updates in flight (ZMQ_SNDHWM), so the
// rate measured is what the server absorbs, not what the senders queue. A
// second thread asks the query endpoint "node" and "agents" in a loop and
// records each round trip.
//
// Prints: agents registered, updates applied per second, query count and
// latency p50/p99/max for each query kind.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tvd/log.h"
#include "tvd/rm/query_client.h"
#include "tvd/rm/rm_server.h"

namespace {

using namespace tvd::rm;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

int ArgOr(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      int v = 0;
      auto [p, ec] = std::from_chars(argv[i + 1],
                                     argv[i + 1] + std::strlen(argv[i + 1]), v);
      if (ec == std::errc() && v > 0) return v;
    }
  }
  return fallback;
}

CurveKeyPair Keys() {
  auto k = GenerateCurveKeyPair();
  if (!k.ok()) {
    std::fprintf(stderr, "keygen: %s\n", k.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(k).value();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i =
      static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

void PrintLatency(const char* name, const std::vector<double>& us) {
  std::printf("query %-8s n=%zu p50=%.0f us p99=%.0f us max=%.0f us\n", name,
              us.size(), Percentile(us, 0.50), Percentile(us, 0.99),
              us.empty() ? 0.0 : *std::max_element(us.begin(), us.end()));
}

}  // namespace

int main(int argc, char** argv) {
  const int agents = ArgOr(argc, argv, "--agents", 500);
  const int seconds = ArgOr(argc, argv, "--seconds", 5);
  tvd::log::SetLevel(tvd::log::Level::kWarning);

  std::vector<CurveKeyPair> agent_keys;
  AllowList allow;
  for (int i = 0; i < agents; ++i) {
    agent_keys.push_back(Keys());
    allow[agent_keys.back().public_z85] = "sim-" + std::to_string(i);
  }
  CurveKeyPair admin = Keys();
  RmServerConfig config;
  config.agent_endpoint = "tcp://127.0.0.1:*";
  config.query_endpoint = "tcp://127.0.0.1:*";
  config.server_keys = Keys();
  config.agents = allow;
  config.admins = {{admin.public_z85, "admin"}};
  config.liveness = LivenessPolicy{milliseconds(10000), 3, milliseconds(60000)};
  auto server = RmServer::Create(std::move(config));
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  RmServer& srv = **server;
  std::thread server_thread([&] { (void)srv.Run(); });

  zmq::context_t ctx(1);
  std::vector<zmq::socket_t> sockets;
  for (int i = 0; i < agents; ++i) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    (void)ConfigureCurveClient(s, agent_keys[i], srv.public_key());
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, 4);
    s.connect(srv.agent_endpoint());
    s.send(zmq::buffer(
        EncodeAgentMessage(RegisterMsg{"sim-" + std::to_string(i), {}})));
    sockets.push_back(std::move(s));
  }
  auto query =
      RmQueryClient::Connect(srv.query_endpoint(), srv.public_key(), admin);
  if (!query.ok()) return 1;
  const auto reg_start = SteadyClock::now();
  auto registered = [&]() -> std::size_t {
    auto a = (*query)->Query(QueryRequest{}, milliseconds(5000));
    return a.ok() ? a->size() : 0;
  };
  while (registered() != static_cast<std::size_t>(agents)) {
    if (SteadyClock::now() - reg_start > std::chrono::seconds(60)) {
      std::fprintf(stderr, "not all agents registered\n");
      return 1;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  const double reg_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - reg_start)
          .count();
  std::printf(
      "agents registered: %d (CURVE handshakes + register in %.0f ms)\n",
      agents, reg_ms);

  std::atomic<bool> stop{false};
  std::vector<double> node_us, agents_us;
  std::thread querier([&] {
    auto q =
        RmQueryClient::Connect(srv.query_endpoint(), srv.public_key(), admin);
    if (!q.ok()) return;
    int n = 0;
    while (!stop.load()) {
      const bool ask_agents = (n++ % 10) == 9;
      QueryRequest r =
          ask_agents ? QueryRequest{}
                     : QueryRequest{QueryRequest::Kind::kNode,
                                    "sim-" + std::to_string(n % agents), ""};
      const auto t0 = SteadyClock::now();
      auto reply = (*q)->Query(r, milliseconds(5000));
      const double us =
          std::chrono::duration<double, std::micro>(SteadyClock::now() - t0)
              .count();
      if (reply.ok()) (ask_agents ? agents_us : node_us).push_back(us);
      std::this_thread::sleep_for(milliseconds(2));
    }
  });

  const std::string update = EncodeAgentMessage(
      StatusMsg{NodeStatus{16, 1.5, 64000000, 32000000, 12, 30000000}});
  const std::uint64_t applied_before = srv.stats().agent_messages.load();
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::uint64_t offered = 0;
  while (SteadyClock::now() < end) {
    bool any = false;
    for (zmq::socket_t& s : sockets) {
      if (s.send(zmq::buffer(update), zmq::send_flags::dontwait)) {
        ++offered;
        any = true;
      }
    }
    if (!any) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const double elapsed =
      std::chrono::duration<double>(SteadyClock::now() - start).count();
  const std::uint64_t applied =
      srv.stats().agent_messages.load() - applied_before;
  stop = true;
  querier.join();

  std::printf(
      "status updates applied: %llu in %.2f s = %.0f updates/s "
      "(%llu offered by %d agents)\n",
      static_cast<unsigned long long>(applied), elapsed,
      static_cast<double>(applied) / elapsed,
      static_cast<unsigned long long>(offered), agents);
  PrintLatency("node", node_us);
  PrintLatency("agents", agents_us);
  std::printf(
      "rejected messages: %llu\n",
      static_cast<unsigned long long>(srv.stats().rejected_messages.load()));
  sockets.clear();
  srv.RequestStop();
  server_thread.join();
  return 0;
}

// One tenant at its relay limits (connections, call rate, calls in flight)
// does not starve another tenant or the admin's own libvirt calls: red
// opens its maximum of connections (the next one is refused) and floods
// calls from every one of them, while blue through the relay and the admin
// on libvirtd's socket each time 100 lookups. python3-libvirt, unmodified,
// against a private libvirtd (test driver).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "relay_env.h"
#include "tvd/testing/files.h"

namespace tvd::libvirt_filter::testing {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxConnections = 8;
constexpr double kRate = 50;    // calls per second per TVD
constexpr double kBurst = 100;  // calls at once
constexpr double kFloodSeconds = 6;
// Blue and the admin call every 40 ms (25 calls/s), below blue's own rate:
// what is measured is red's effect on them, not blue's limit. 100 calls
// take 4 s, all inside red's flood.
constexpr char kIntervalMs[] = "40";
// The p99 latency blue (through the relay) and the admin (libvirtd's
// socket) must stay under while red floods. Measured on the 2-core
// development machine with other builds running (load average 3 to 3.5),
// four runs: under red's flood blue p50 0.39-0.59 ms, p99 0.5-3.6 ms; the
// admin p50 0.24-0.35 ms, p99 0.3-3.7 ms; blue without the flood p99
// 0.6-3.4 ms; red completed 380-384 calls in 6.3 s (its bound: 100 + 50/s).
// Bounded at 200 ms, about 50 times the worst p99 measured, so a loaded CI
// machine does not make it flaky, yet far below what a tenant able to take
// the relay's or libvirtd's threads would cost the others.
constexpr double kP99BoundMs = 200;

std::string Script() {
  return std::string(TVD_SOURCE_DIR) +
         "/tests/integration/libvirt_filter/tenant_load.py";
}

json RunJson(ChildProcess& child, const std::string& out,
             std::chrono::seconds timeout) {
  StatusOr<int> exit = child.Wait(timeout);
  EXPECT_TRUE(exit.ok()) << exit.status().ToString();
  if (!exit.ok()) {
    (void)child.Signal(SIGKILL);
    (void)child.Wait(std::chrono::seconds(5));
    return json();
  }
  EXPECT_EQ(*exit, 0) << ::tvd::testing::ReadFileOrEmpty(out + ".err");
  json j = json::parse(::tvd::testing::ReadFileOrEmpty(out), nullptr, false);
  EXPECT_FALSE(j.is_discarded())
      << ::tvd::testing::ReadFileOrEmpty(out)
      << ::tvd::testing::ReadFileOrEmpty(out + ".err");
  return j;
}

StatusOr<ChildProcess> StartScript(const std::vector<std::string>& args,
                                   const std::string& out) {
  ProcessOptions o;
  o.argv = {"/usr/bin/python3", Script()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdout_path = out;
  o.stderr_path = out + ".err";
  return ChildProcess::Start(o);
}

double P50(const json& latency) {
  const json& ms = latency["ms"];
  return ms.is_array() && ms.size() == 100 ? ms[49].get<double>() : 1e9;
}

double P99(const json& latency) {
  const json& ms = latency["ms"];
  if (!ms.is_array() || ms.size() != 100) {
    ADD_FAILURE() << "expected 100 latencies, got " << latency.dump();
    return 1e9;
  }
  return ms[98].get<double>();
}

TEST(RelayLimitsTest, ATenantAtItsLimitsDoesNotDelayOthers) {
  RelayOptions options;
  options.tenant_limits.max_connections = kMaxConnections;
  options.tenant_limits.calls_per_second = kRate;
  options.tenant_limits.burst = kBurst;
  options.tenant_limits.max_in_flight = 4;
  auto env_or = RelayEnv::Start(options);
  ASSERT_TRUE(env_or.ok()) << env_or.status().ToString();
  std::unique_ptr<RelayEnv> env = std::move(env_or).value();
  for (const auto& [name, owner] :
       {std::pair{"blue-vm1", "blue"}, std::pair{"red-vm1", "red"}}) {
    std::string file =
        env->WriteFile(std::string(name) + ".xml", DomainXml(name, owner));
    ASSERT_EQ(env->Virsh(env->AdminUri(), {"define", file}).exit_status, 0);
  }

  // Without load, for the record.
  const std::string quiet_out = env->dir + "/quiet.json";
  auto quiet = StartScript(
      {"latency", env->TenantUri("blue"), "blue-vm1", "100", kIntervalMs},
      quiet_out);
  ASSERT_TRUE(quiet.ok()) << quiet.status().ToString();
  json blue_quiet = RunJson(*quiet, quiet_out, std::chrono::seconds(60));

  const std::string ready = env->dir + "/red-ready";
  const std::string red_out = env->dir + "/red.json";
  auto red = StartScript(
      {"flood", env->TenantUri("red"), std::to_string(kMaxConnections),
       std::to_string(kFloodSeconds), ready},
      red_out);
  ASSERT_TRUE(red.ok()) << red.status().ToString();
  for (int i = 0; i < 600 && !std::filesystem::exists(ready); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::filesystem::exists(ready))
      << ::tvd::testing::ReadFileOrEmpty(red_out + ".err");
  // Let red's burst run out: from here on it is held at its rate.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  const std::string blue_out = env->dir + "/blue.json";
  const std::string admin_out = env->dir + "/admin.json";
  auto blue = StartScript(
      {"latency", env->TenantUri("blue"), "blue-vm1", "100", kIntervalMs},
      blue_out);
  ASSERT_TRUE(blue.ok()) << blue.status().ToString();
  auto admin = StartScript(
      {"latency", env->AdminUri(), "red-vm1", "100", kIntervalMs}, admin_out);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  json blue_loaded = RunJson(*blue, blue_out, std::chrono::seconds(60));
  json admin_loaded = RunJson(*admin, admin_out, std::chrono::seconds(60));
  json flood = RunJson(*red, red_out, std::chrono::seconds(60));

  std::cout << "blue without load: p50 " << P50(blue_quiet) << " ms, p99 "
            << P99(blue_quiet) << " ms; under red's flood: blue p50 "
            << P50(blue_loaded) << " ms, p99 " << P99(blue_loaded)
            << " ms, admin p50 " << P50(admin_loaded) << " ms, p99 "
            << P99(admin_loaded) << " ms; red " << flood.dump() << "\n";

  // The connection beyond red's maximum was refused, exactly.
  ASSERT_TRUE(flood["refused"].is_array()) << flood.dump();
  EXPECT_EQ(flood["refused"][2],
            "operation forbidden: TVD red has 8 relay connections open, the "
            "most allowed");
  // Red was delayed, never refused, and really held to its rate.
  EXPECT_EQ(flood["errors"], 0);
  const double seconds = flood["seconds"].get<double>();
  const double calls = flood["calls"].get<double>();
  EXPECT_LE(calls, kBurst + kRate * seconds) << flood.dump();
  // ... while it kept asking: it used at least half of what it may.
  EXPECT_GE(calls, kRate * kFloodSeconds / 2) << flood.dump();

  EXPECT_LT(P99(blue_loaded), kP99BoundMs);
  EXPECT_LT(P99(admin_loaded), kP99BoundMs);

  // The relay is still up for everyone, red included.
  EXPECT_EQ(env->relay->tenant_limits().connections("red"), 0u);
  CommandResult r =
      env->Virsh(env->TenantUri("red"), {"list", "--all", "--name"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

// Red's policy template allows 8 domains and 16 vCPUs per host. Through
// the relay, with virsh: the 9th define and a start beyond the running
// vCPUs are refused with the quota named, and libvirtd stores nothing.
TEST(RelayQuotaTest, DefineAndStartBeyondTheQuotaAreRefused) {
  auto env_or = RelayEnv::Start();
  ASSERT_TRUE(env_or.ok()) << env_or.status().ToString();
  std::unique_ptr<RelayEnv> env = std::move(env_or).value();
  const std::string red = env->TenantUri("red");
  for (int i = 1; i <= 8; ++i) {
    std::string name = "red-q" + std::to_string(i);
    std::string xml = DomainXml(name, "");
    if (i == 1) xml.replace(xml.find("<vcpu>1</vcpu>"), 14, "<vcpu>16</vcpu>");
    CommandResult r =
        env->Virsh(red, {"define", env->WriteFile(name + ".xml", xml)});
    ASSERT_EQ(r.exit_status, 0) << name << ": " << r.err;
  }
  CommandResult ninth = env->Virsh(
      red, {"define", env->WriteFile("red-q9.xml", DomainXml("red-q9", ""))});
  EXPECT_NE(ninth.exit_status, 0);
  EXPECT_NE(ninth.err.find("error: operation forbidden: quota of TVD red "
                           "exceeded: domains per host 8, in use 8, this "
                           "domain asks for 1\n"),
            std::string::npos)
      << ninth.err;
  CommandResult admin =
      env->Virsh(env->AdminUri(), {"list", "--all", "--name"});
  EXPECT_EQ(admin.out.find("red-q9"), std::string::npos) << admin.out;

  // red-q1 takes all 16 vCPUs; nothing else of red may start meanwhile.
  CommandResult r = env->Virsh(red, {"start", "red-q1"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  CommandResult second = env->Virsh(red, {"start", "red-q2"});
  EXPECT_NE(second.exit_status, 0);
  EXPECT_NE(second.err.find("error: operation forbidden: quota of TVD red "
                            "exceeded: vcpus per host 16, in use 16, this "
                            "domain asks for 1\n"),
            std::string::npos)
      << second.err;
  CommandResult active = env->Virsh(env->AdminUri(), {"list", "--name"});
  EXPECT_EQ(active.out.find("red-q2"), std::string::npos) << active.out;
  // Once red-q1 stops, red-q2 fits.
  ASSERT_EQ(env->Virsh(red, {"destroy", "red-q1"}).exit_status, 0);
  r = env->Virsh(red, {"start", "red-q2"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
}

}  // namespace
}  // namespace tvd::libvirt_filter::testing

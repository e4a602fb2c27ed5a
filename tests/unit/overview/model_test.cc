// The overview model: strict decoding of the master's and rm-server's
// replies (exact errors) and the merge of both views, with fakes behind the
// source interfaces.
#include "tvd/overview/model.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "fixtures.h"
#include "tvd/overview/sources.h"

namespace tvd::overview {
namespace {

using nlohmann::json;

TEST(DecodeMasterState, ReadsTvdsAndHosts) {
  auto s = DecodeMasterState(MasterTvdsReply(), MasterHostsReply());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->tvds.size(), 2u);
  EXPECT_EQ(s->tvds[0].name, "blue");
  EXPECT_EQ(s->tvds[0].epoch, 3u);
  EXPECT_EQ(s->tvds[0].networks, std::vector<std::string>{"blue-data"});
  ASSERT_EQ(s->tvds[0].members.size(), 2u);
  EXPECT_FALSE(s->tvds[0].members[1].attested);
  EXPECT_EQ(s->tvds[0].members[1].attestation_reason, "PCR 16 mismatch");
  ASSERT_EQ(s->hosts.size(), 2u);
  EXPECT_EQ(s->hosts[1].tvds, (std::vector<std::string>{"blue", "red"}));
}

TEST(DecodeMasterState, NamesThePathOfAWrongType) {
  json tvds = MasterTvdsReply();
  tvds["tvds"][0]["members"][1]["attested"] = "yes";
  EXPECT_EQ(DecodeMasterState(tvds, MasterHostsReply()).status(),
            ProtocolError("master tvds reply: $.tvds[0].members[1].attested: "
                          "expected a boolean"));
  tvds = MasterTvdsReply();
  tvds["tvds"][1].erase("vms");
  EXPECT_EQ(DecodeMasterState(tvds, MasterHostsReply()).status(),
            ProtocolError("master tvds reply: $.tvds[1].vms: missing"));
  EXPECT_EQ(DecodeMasterState(json::array(), MasterHostsReply()).status(),
            ProtocolError("master tvds reply: $: expected an object"));
  json hosts = MasterHostsReply();
  hosts["hosts"][0]["tvds"][0] = 7;
  EXPECT_EQ(DecodeMasterState(MasterTvdsReply(), hosts).status(),
            ProtocolError("master hosts reply: $.hosts[0].tvds[0]: expected "
                          "a string"));
}

TEST(DecodeRmSnapshot, ReadsHostsResourcesAndDomains) {
  auto s = DecodeRmSnapshot(RmSnapshot());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->hosts.size(), 3u);
  ASSERT_TRUE(s->hosts[0].resources.has_value());
  EXPECT_EQ(s->hosts[0].resources->free_vcpus, 2);
  EXPECT_EQ(s->hosts[0].domains[0].tvd, "");
  EXPECT_EQ(s->hosts[0].domains[1].tvd, "blue");
  EXPECT_FALSE(s->hosts[2].resources.has_value());  // not reported yet
}

TEST(DecodeRmSnapshot, NamesThePathOfAWrongType) {
  json snap = RmSnapshot();
  snap[0]["status"]["mem_free_kib"] = -5;
  EXPECT_EQ(DecodeRmSnapshot(snap).status(),
            ProtocolError("rm-server snapshot: $[0].status.mem_free_kib: "
                          "expected a non-negative integer"));
  snap = RmSnapshot();
  snap[1]["domains"][0]["networks"] = "blue-data";
  EXPECT_EQ(DecodeRmSnapshot(snap).status(),
            ProtocolError("rm-server snapshot: $[1].domains[0].networks: "
                          "expected an array"));
  EXPECT_EQ(DecodeRmSnapshot(json::object()).status(),
            ProtocolError("rm-server snapshot: $: expected an array"));
}

TEST(MergeOverview, JoinsBothViews) {
  Overview o = SampleOverview();
  EXPECT_TRUE(o.master.ok);
  EXPECT_TRUE(o.rm.ok);
  ASSERT_EQ(o.tvds.size(), 3u);  // blue, green (domains only), red

  const TvdView& blue = o.tvds[0];
  EXPECT_EQ(blue.name, "blue");
  EXPECT_TRUE(blue.known_to_master);
  ASSERT_EQ(blue.hosts.size(), 2u);
  EXPECT_EQ(blue.hosts[0].host, "node1");
  EXPECT_TRUE(blue.hosts[0].attested);
  ASSERT_EQ(blue.hosts[0].vms.size(), 2u);
  // web1: reported by the proxy and running on the host.
  EXPECT_EQ(blue.hosts[0].vms[0].name, "web1");
  EXPECT_TRUE(blue.hosts[0].vms[0].reported);
  EXPECT_TRUE(blue.hosts[0].vms[0].seen_on_host);
  EXPECT_EQ(blue.hosts[0].vms[0].state, "running");
  // web2: the master has it, the host does not run it.
  EXPECT_EQ(blue.hosts[0].vms[1].name, "web2");
  EXPECT_TRUE(blue.hosts[0].vms[1].reported);
  EXPECT_FALSE(blue.hosts[0].vms[1].seen_on_host);
  EXPECT_EQ(blue.hosts[1].host, "node2");
  EXPECT_FALSE(blue.hosts[1].attested);
  EXPECT_EQ(blue.hosts[1].attestation_reason, "PCR 16 mismatch");

  const TvdView& green = o.tvds[1];
  EXPECT_EQ(green.name, "green");
  EXPECT_FALSE(green.known_to_master);
  ASSERT_EQ(green.hosts.size(), 1u);
  EXPECT_FALSE(green.hosts[0].member);
  EXPECT_EQ(green.hosts[0].vms[0].name, "stray");

  ASSERT_EQ(o.hosts.size(), 3u);
  EXPECT_EQ(o.hosts[0].name, "node1");
  EXPECT_TRUE(o.hosts[0].up);
  EXPECT_TRUE(o.hosts[0].known_to_master && o.hosts[0].known_to_rm);
  EXPECT_EQ(o.hosts[0].tvds, (std::vector<std::string>{"blue"}));
  EXPECT_EQ(o.hosts[0].domains.size(), 2u);  // web1 and the untagged "tools"
  EXPECT_EQ(o.hosts[1].tvds,
            (std::vector<std::string>{"blue", "green", "red"}));
  EXPECT_EQ(o.hosts[2].name, "node3");
  EXPECT_FALSE(o.hosts[2].up);
  EXPECT_FALSE(o.hosts[2].known_to_master);

  Totals t = ComputeTotals(o);
  EXPECT_EQ(t.tvds, 3u);
  EXPECT_EQ(t.hosts, 3u);
  EXPECT_EQ(t.hosts_up, 2u);
  EXPECT_EQ(t.vms, 4u);  // web1, web2 on node1; stray, db1 on node2
  EXPECT_EQ(t.free_vcpus, 2 + 1);
  EXPECT_EQ(t.free_mem_kib, 2097152u + 1048576u);
}

TEST(MergeOverview, OneSourceMissingStillShowsTheOther) {
  auto rm = DecodeRmSnapshot(RmSnapshot());
  ASSERT_TRUE(rm.ok());
  Overview o = MergeOverview(
      nullptr, {false, ErrorCode::kUnavailable, "tvd-master x: down"}, &*rm,
      {true, ErrorCode::kOk, ""}, 1);
  EXPECT_FALSE(o.master.ok);
  ASSERT_EQ(o.hosts.size(), 3u);
  EXPECT_FALSE(o.hosts[0].known_to_master);
  ASSERT_EQ(o.tvds.size(), 3u);  // from domain metadata only
  EXPECT_FALSE(o.tvds[0].known_to_master);
}

TEST(ComputeTotals, SaturatesInsteadOfOverflowing) {
  json host = RmSnapshot()[0];
  host["status"]["free_vcpus"] = INT64_MAX;
  host["status"]["free_mem_kib"] = UINT64_MAX;
  json other = host;
  other["host"] = "node9";
  auto rm = DecodeRmSnapshot(json::array({host, other}));
  ASSERT_TRUE(rm.ok()) << rm.status();
  Overview o = MergeOverview(nullptr, {false, ErrorCode::kUnavailable, "m"},
                             &*rm, {true, ErrorCode::kOk, ""}, 0);
  Totals t = ComputeTotals(o);
  EXPECT_EQ(t.free_vcpus, INT64_MAX);
  EXPECT_EQ(t.free_mem_kib, UINT64_MAX);
}

TEST(CollectOverview, RecordsSourceFailuresAndKeepsTheRest) {
  FakeMasterSource master;
  FakeRmSource rm;
  master.tvds = Unavailable("cannot connect to 127.0.0.1:7400: refused");
  Overview o = CollectOverview(master, rm, 42);
  EXPECT_FALSE(o.master.ok);
  EXPECT_EQ(o.master.code, ErrorCode::kUnavailable);
  EXPECT_EQ(o.master.error,
            "fake master: unavailable: cannot connect to 127.0.0.1:7400: "
            "refused");
  EXPECT_TRUE(o.rm.ok);
  EXPECT_EQ(o.hosts.size(), 3u);
  EXPECT_EQ(o.generated_at, 42);

  FakeMasterSource good;
  rm.snapshot = json{{"not", "a list"}};
  o = CollectOverview(good, rm, 43);
  EXPECT_TRUE(o.master.ok);
  EXPECT_FALSE(o.rm.ok);
  EXPECT_EQ(o.rm.code, ErrorCode::kProtocol);
  EXPECT_EQ(o.rm.error,
            "fake rm-server: protocol: rm-server snapshot: $: expected an "
            "array");
  EXPECT_EQ(o.tvds.size(), 2u);
}

TEST(CachedOverview, CollectsAtMostOncePerMaxAge) {
  auto master = std::make_unique<FakeMasterSource>();
  auto rm = std::make_unique<FakeRmSource>();
  FakeMasterSource* m = master.get();
  std::chrono::steady_clock::time_point now{};
  CachedOverview cache(std::move(master), std::move(rm),
                       std::chrono::milliseconds(1000), [&] { return now; });
  cache.Get();
  cache.Get();
  EXPECT_EQ(m->calls, 1);
  now += std::chrono::milliseconds(999);
  cache.Get();
  EXPECT_EQ(m->calls, 1);
  now += std::chrono::milliseconds(1);
  cache.Get();
  EXPECT_EQ(m->calls, 2);
}

}  // namespace
}  // namespace tvd::overview

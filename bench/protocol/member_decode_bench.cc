// What a member host decodes in a join storm. Every member of an N-member
// TVD receives a JoinGrant listing the members before it and then hears of
// every later join: across the storm, N(N-1)/2 member entries in grants and
// as many in MembershipUpdates. At 10,000 hosts that is 10^8 entries, so
// the cost per entry decides a visible share of the storm's CPU.
//
// Names and addresses as the 10,000-host master benchmark's: "sim00042",
// "10.0.0.42"-style underlays.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tvd/protocol/messages.h"

namespace tvd::protocol {
namespace {

Member NthMember(int i) {
  char host[16];
  std::snprintf(host, sizeof host, "sim%05d", i);
  char underlay[24];
  std::snprintf(underlay, sizeof underlay, "10.%d.%d.%d", (i >> 16) & 255,
                (i >> 8) & 255, i & 255);
  return {host, underlay};
}

void BM_DecodeJoinGrant(benchmark::State& state) {
  JoinGrant grant;
  grant.tvd = "bench";
  grant.policy_xml = "<tvd name='bench'/>";
  grant.epoch = 7;
  grant.key = SecureBytes(std::vector<std::uint8_t>(kTvdKeySize, 1));
  for (int i = 0; i < state.range(0); ++i)
    grant.members.push_back(NthMember(i));
  grant.attestation_interval_seconds = 600;
  const std::vector<std::uint8_t> wire = Encode(grant);
  for (auto _ : state) {
    auto decoded = DecodeJoinGrant(wire);
    if (!decoded.ok() ||
        decoded->members.size() != static_cast<std::size_t>(state.range(0))) {
      state.SkipWithError("the grant did not decode whole");
      break;
    }
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeJoinGrant)->Arg(1000)->Arg(10000);

void BM_DecodeMembershipUpdate(benchmark::State& state) {
  MembershipUpdate update;
  update.tvd = "bench";
  update.epoch = 7;
  for (int i = 0; i < state.range(0); ++i) {
    update.changes.push_back({MembershipChange::kJoined, NthMember(i)});
  }
  update.member_count = static_cast<std::uint32_t>(state.range(0));
  const std::vector<std::uint8_t> wire = Encode(update);
  for (auto _ : state) {
    auto decoded = DecodeMembershipUpdate(wire);
    if (!decoded.ok() ||
        decoded->changes.size() != static_cast<std::size_t>(state.range(0))) {
      state.SkipWithError("the update did not decode whole");
      break;
    }
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeMembershipUpdate)->Arg(16)->Arg(kMaxMemberChanges);

}  // namespace
}  // namespace tvd::protocol

BENCHMARK_MAIN();

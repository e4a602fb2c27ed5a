// VerifyImaEvidence, the verifier's IMA state machine, one transition at a
// time: full replay, incremental replay from a kept state, every fallback
// reason, and refusals of new entries with the full replay's exact reason.
#include "tvd/attest/ima_incremental.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tvd::attest {
namespace {

std::string Path(int i) { return "/usr/bin/tool" + std::to_string(i); }

class ImaIncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    boot_[0] = Sha256("firmware");
    boot_[4] = Sha256("bootloader");
    for (int i = 1; i <= 40; ++i) allowlist_.Allow(Path(i), Sha256(Path(i)));
    Append(MakeBootAggregateLine(boot_));
    for (int i = 1; i < kFirst; ++i)
      Append(MakeImaNgLine(Path(i), Sha256(Path(i))));
    ak_ = {0x00, 0x0b, 0x01, 0x02};
  }

  // Adds a line to the host's log and extends the host's PCR 10 with it.
  void Append(const ImaLine& line) {
    lines_.push_back(line.text + "\n");
    pcr10_ = ExtendSha256(pcr10_, line.template_sha256);
  }
  // Lines [from, end) of the log.
  std::string Lines(std::size_t from) const {
    std::string out;
    for (std::size_t i = from; i < lines_.size(); ++i) out += lines_[i];
    return out;
  }
  ImaQuoteFacts Quote() const {
    ImaQuoteFacts q;
    q.ak_name = ak_;
    q.reset_count = reset_;
    q.restart_count = 0;
    q.boot_pcrs = &boot_;
    q.pcr10 = pcr10_;
    return q;
  }
  // The whole log, as a first quote sends it; its verified state.
  ImaReplayState FullQuote() {
    std::string log = Lines(0);
    ImaVerdict v = VerifyImaEvidence({log, 0, lines_.size()}, allowlist_,
                                     Quote(), nullptr, {});
    EXPECT_EQ(v.status, Status::Ok());
    EXPECT_EQ(v.path, ImaReplayPath::kFull);
    EXPECT_TRUE(v.need_full_log.empty());
    EXPECT_TRUE(v.verified.has_value());
    return v.verified.value_or(ImaReplayState{});
  }
  // Incremental evidence from the kept state's end.
  ImaVerdict Incremental(const ImaReplayState& kept, std::string log = "") {
    if (log.empty()) log = Lines(kept.entries);
    return VerifyImaEvidence({log, kept.entries, lines_.size()}, allowlist_,
                             Quote(), &kept, kept.pcr10);
  }

  static constexpr int kFirst = 20;  // entries at the first quote
  BootPcrs boot_{};
  ImaAllowlist allowlist_;
  std::vector<std::string> lines_;
  Sha256Digest pcr10_{};
  std::vector<std::uint8_t> ak_;
  std::uint32_t reset_ = 3;
};

TEST_F(ImaIncrementalTest, FullReplayKeepsTheVerifiedState) {
  ImaReplayState kept = FullQuote();
  EXPECT_EQ(kept.entries, 20u);
  EXPECT_EQ(kept.pcr10, pcr10_);
  EXPECT_EQ(kept.ak_name, ak_);
  EXPECT_EQ(kept.reset_count, 3u);
  EXPECT_EQ(kept.boot_aggregate, BootAggregate(boot_));
}

TEST_F(ImaIncrementalTest, IncrementalReplaysOnlyTheNewEntries) {
  ImaReplayState kept = FullQuote();
  for (int i = kFirst; i < kFirst + 10; ++i) {
    Append(MakeImaNgLine(Path(i), Sha256(Path(i)), i % 2 == 0));
  }
  ImaVerdict v = Incremental(kept);
  EXPECT_EQ(v.status, Status::Ok());
  EXPECT_EQ(v.path, ImaReplayPath::kIncremental);
  EXPECT_EQ(v.need_full_log, "");
  ASSERT_TRUE(v.verified.has_value());
  EXPECT_EQ(v.verified->entries, 30u);
  EXPECT_EQ(v.verified->pcr10, pcr10_);

  // Nothing new: the kept value is the quoted one.
  ImaVerdict same = Incremental(*v.verified);
  EXPECT_EQ(same.status, Status::Ok());
  EXPECT_EQ(same.path, ImaReplayPath::kIncremental);
  EXPECT_EQ(same.verified, v.verified);
}

TEST_F(ImaIncrementalTest, PcrMismatchAsksForTheWholeLog) {
  ImaReplayState kept = FullQuote();
  Append(MakeImaNgLine(Path(21), Sha256(Path(21))));
  // The host claims another (allowed) entry than the one the TPM holds.
  std::string forged = MakeImaNgLine(Path(22), Sha256(Path(22))).text + "\n";
  Sha256Digest replayed = ExtendSha256(
      kept.pcr10, MakeImaNgLine(Path(22), Sha256(Path(22))).template_sha256);
  ImaVerdict v = Incremental(kept, forged);
  EXPECT_EQ(v.need_full_log, "incremental replay gives PCR 10 " +
                                 ToHex(replayed) +
                                 " but the quoted PCR 10 is " + ToHex(pcr10_));
  EXPECT_FALSE(v.verified.has_value());
}

TEST_F(ImaIncrementalTest, TpmResetOrRestartAsksForTheWholeLog) {
  ImaReplayState kept = FullQuote();
  reset_ = 4;
  EXPECT_EQ(Incremental(kept).need_full_log,
            "TPM reset count changed (3 -> 4)");
  reset_ = 3;
  ImaQuoteFacts q = Quote();
  q.restart_count = 1;
  ImaVerdict v = VerifyImaEvidence({"", kept.entries, kept.entries}, allowlist_,
                                   q, &kept, kept.pcr10);
  EXPECT_EQ(v.need_full_log, "TPM restart count changed (0 -> 1)");
}

TEST_F(ImaIncrementalTest, AnotherAkOrBootAsksForTheWholeLog) {
  ImaReplayState kept = FullQuote();
  ImaReplayState other_ak = kept;
  other_ak.ak_name = {0x00, 0x0b, 0x09};
  EXPECT_EQ(Incremental(other_ak).need_full_log,
            "the quote is signed by another AK than the kept state's");
  BootPcrs before = boot_;
  boot_[8] = Sha256("grub command line");
  EXPECT_EQ(Incremental(kept).need_full_log,
            "PCRs 0-9 changed since the kept state (boot_aggregate " +
                ToHex(BootAggregate(before)) + " -> " +
                ToHex(BootAggregate(boot_)) + ")");
  ImaQuoteFacts q = Quote();
  q.boot_pcrs = nullptr;
  EXPECT_EQ(VerifyImaEvidence({"", kept.entries, kept.entries}, allowlist_, q,
                              &kept, kept.pcr10)
                .need_full_log,
            "PCRs 0-9 were not quoted");
}

TEST_F(ImaIncrementalTest, LostOrChangedStateAsksForTheWholeLog) {
  ImaReplayState kept = FullQuote();
  // The master lost its state (restart) after sending the challenge.
  EXPECT_EQ(VerifyImaEvidence({"", kept.entries, kept.entries}, allowlist_,
                              Quote(), nullptr, kept.pcr10)
                .need_full_log,
            "no replay state is kept for this host");
  // Another quote of the host moved the state on since the challenge.
  ImaReplayState moved = kept;
  moved.entries += 1;
  EXPECT_EQ(VerifyImaEvidence({"", kept.entries, kept.entries}, allowlist_,
                              Quote(), &moved, kept.pcr10)
                .need_full_log,
            "the kept replay state changed since the challenge");
}

TEST_F(ImaIncrementalTest, EditedNewEntryIsRefusedAtItsLine) {
  ImaReplayState kept = FullQuote();
  for (int i = kFirst; i < kFirst + 3; ++i) {
    Append(MakeImaNgLine(Path(i), Sha256(Path(i))));
  }
  std::string log = Lines(kept.entries);
  // Entry 22 (the second new one) now claims another file digest.
  std::size_t second = log.find('\n') + 1;
  std::size_t at = log.find("sha256:", second) + 7;
  log[at] = log[at] == '0' ? '1' : '0';
  ImaVerdict v = Incremental(kept, log);
  EXPECT_EQ(v.need_full_log, "");
  EXPECT_EQ(v.status,
            InvalidArgument("IMA log line 22: template hash does not match the "
                            "entry's data (entry edited?)"));
  EXPECT_FALSE(v.verified.has_value());
}

TEST_F(ImaIncrementalTest, NewEntriesAreCheckedAgainstThePolicy) {
  ImaReplayState kept = FullQuote();
  Append(MakeImaNgLine("/tmp/dropper", Sha256("dropper")));
  EXPECT_EQ(
      Incremental(kept).status,
      PermissionDenied("IMA log line 21: /tmp/dropper with sha256:" +
                       ToHex(Sha256("dropper")) + " is not in the allowlist"));
  // A second boot_aggregate among the new entries.
  lines_.pop_back();
  Append(MakeBootAggregateLine(boot_));
  EXPECT_EQ(Incremental(kept).status,
            PermissionDenied("IMA log line 21: boot_aggregate is accepted only "
                             "as the first entry"));
}

TEST_F(ImaIncrementalTest, EntryCountMustMatchTheLog) {
  ImaReplayState kept = FullQuote();
  Append(MakeImaNgLine(Path(21), Sha256(Path(21))));
  ImaVerdict v = VerifyImaEvidence({Lines(kept.entries), kept.entries, 25},
                                   allowlist_, Quote(), &kept, kept.pcr10);
  EXPECT_EQ(v.status, InvalidArgument("evidence counts 25 IMA entries but its "
                                      "log has 1 from entry 20"));
}

// After a fallback the host sends the whole log, and the full replay
// decides: an edited old entry is refused there, at its line.
TEST_F(ImaIncrementalTest, EditedEntryInFallbackFullReplayIsRefused) {
  ImaReplayState kept = FullQuote();
  reset_ = 4;
  ASSERT_EQ(Incremental(kept).need_full_log,
            "TPM reset count changed (3 -> 4)");
  std::string log = Lines(0);
  std::size_t line6 = 0;
  for (int i = 0; i < 5; ++i) line6 = log.find('\n', line6) + 1;
  std::size_t at = log.find("sha256:", line6) + 7;
  log[at] = log[at] == '0' ? '1' : '0';
  ImaVerdict v = VerifyImaEvidence({log, 0, lines_.size()}, allowlist_, Quote(),
                                   &kept, {});
  EXPECT_EQ(v.path, ImaReplayPath::kFull);
  EXPECT_EQ(v.need_full_log, "");
  EXPECT_EQ(v.status,
            InvalidArgument("IMA log line 6: template hash does not match the "
                            "entry's data (entry edited?)"));
}

TEST_F(ImaIncrementalTest, FullReplayMismatchIsRefused) {
  std::string log = Lines(0);
  Sha256Digest replayed = pcr10_;
  Append(MakeImaNgLine(Path(30), Sha256(Path(30))));  // not sent
  ImaVerdict v =
      VerifyImaEvidence({log, 0, kFirst}, allowlist_, Quote(), nullptr, {});
  EXPECT_EQ(v.status,
            PermissionDenied("IMA log replay gives PCR 10 " + ToHex(replayed) +
                             " but the quoted PCR 10 is " + ToHex(pcr10_) +
                             " (20 entries)"));
}

}  // namespace
}  // namespace tvd::attest

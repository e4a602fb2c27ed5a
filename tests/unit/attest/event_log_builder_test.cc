#include "tvd/attest/event_log_builder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event_log_test_data.h"
#include "tvd/testing/files.h"

namespace tvd::attest {
namespace {

using event_log_test::Bytes;
using event_log_test::ReadData;

// The events of eventlog_locality3.bin, which an independent generator
// wrote (event_log_test.cc).
EventLogBuilder SameAsTheDataFile() {
  EventLogBuilder b;
  b.StartupLocality(3).CrtmVersion("1.0").FirmwareBlob("firmware volume");
  const std::uint8_t on[] = {1};
  b.SecureBootVariable("SecureBoot", on)
      .SecureBootVariable("PK", "pk-list")
      .SecureBootVariable("KEK", "kek-list")
      .SecureBootVariable("db", "db-list")
      .SecureBootVariable("dbx", "dbx-list")
      .Action(4, "Calling EFI Application from Boot Option");
  for (std::uint32_t pcr = 0; pcr < 8; ++pcr) b.Separator(pcr);
  b.BootApplication("shim").BootApplication("grub").BootApplication("kernel");
  b.Measure(9, ev::kIpl, std::string_view("grub_cmd linux /vmlinuz\0", 24));
  b.Action(5, "Exit Boot Services Invocation");
  return b;
}

TEST(EventLogBuilderTest, WritesTheBytesAnIndependentGeneratorWrites) {
  EventLogBuilder b = SameAsTheDataFile();
  EXPECT_EQ(b.bytes(), ReadData("eventlog_locality3.bin"));
  auto log = ParseEventLog(ReadData("eventlog_locality3.bin"));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(b.pcrs(), ReplayEventLog(*log));
  EXPECT_EQ(ToHex(b.pcrs()[0]),
            "de06013356aa82d3f22425062d32407f85a5a080b77905e4c86d031fe92e17fa");
  // Extends: every event but StartupLocality, with both banks' digests.
  ASSERT_EQ(b.extends().size(), 21u);
  EXPECT_EQ(b.extends()[0].pcr, 0u);
  EXPECT_EQ(ToHex(b.extends()[1].sha256), ToHex(Sha256("firmware volume")));
  EXPECT_EQ(ToHex(b.extends()[1].sha1),
            "31dc8090b050e2011bf1ad7bd8bc233992d9b1a0");
  EXPECT_EQ(b.extends()[19].pcr, 9u);
}

TEST(EventLogBuilderTest, Sha256OnlyLogs) {
  EventLogBuilder b(/*with_sha1=*/false);
  b.CrtmVersion("1.0").Separator(0).BootApplication("grub");
  auto log = ParseEventLog(b.bytes());
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_EQ(log->algorithms.size(), 1u);
  EXPECT_EQ(log->algorithms[0].id, kTpmAlgSha256);
  EXPECT_EQ(log->events.size(), 3u);
  EXPECT_EQ(ReplayEventLog(*log), b.pcrs());
  EXPECT_EQ(b.extends()[2].sha1, Sha1Digest{});
}

TEST(EventLogBuilderTest, TypicalBootPassesItsOwnPolicyOnly) {
  SyntheticBoot boot = MakeTypicalBoot("host-1");
  Bytes bytes = boot.log.bytes();
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->events.size(), 100u);
  EXPECT_EQ(ReplayEventLog(*log), boot.log.pcrs());
  Status s = CheckMeasuredBoot(*log, boot.policy);
  EXPECT_TRUE(s.ok()) << s.message();

  SyntheticBoot other = MakeTypicalBoot("host-2", 60);
  EXPECT_NE(other.log.pcrs(), boot.log.pcrs());
  s = CheckMeasuredBoot(*log, other.policy);
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "event log event 2 (PCR 0, EV_EFI_PLATFORM_FIRMWARE_BLOB): "
            "firmware " +
                ToHex(Sha256("firmware volume 0 host-1")) +
                " is not allowed by the measured-boot policy");
  auto smaller = ParseEventLog(other.log.bytes());
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ(smaller->events.size(), 60u);
}

}  // namespace
}  // namespace tvd::attest

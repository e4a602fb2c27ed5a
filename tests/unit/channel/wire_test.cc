#include "tvd/channel/wire.h"

#include <gtest/gtest.h>

namespace tvd::channel {
namespace {

TEST(WireTest, RoundTrips) {
  WireWriter w;
  w.U8(7);
  w.U16(0x1234);
  w.U32(0xdeadbeef);
  w.U64(0x0102030405060708);
  w.String("hello");
  std::vector<std::uint8_t> bytes = w.Take();
  WireReader r(bytes);
  EXPECT_EQ(*r.U8("a"), 7);
  EXPECT_EQ(*r.U16("b"), 0x1234);
  EXPECT_EQ(*r.U32("c"), 0xdeadbeefu);
  EXPECT_EQ(*r.U64("d"), 0x0102030405060708u);
  EXPECT_EQ(*r.String("e", 5), "hello");
  EXPECT_EQ(r.ExpectEnd("test"), Status::Ok());
}

TEST(WireTest, RefusesShortOversizedAndTrailing) {
  std::vector<std::uint8_t> bytes = {0, 0, 0, 9, 'a'};
  WireReader r(bytes);
  EXPECT_EQ(r.Bytes("blob", 8).status(),
            ProtocolError("field 'blob' has 9 bytes, more than the maximum 8"));
  WireReader r2(bytes);
  EXPECT_EQ(r2.Bytes("blob", 100).status(),
            ProtocolError("message truncated in field 'blob'"));
  WireReader r3(bytes);
  ASSERT_TRUE(r3.U8("x").ok());
  EXPECT_EQ(r3.ExpectEnd("msg"),
            ProtocolError("4 unexpected trailing bytes in msg"));
}

}  // namespace
}  // namespace tvd::channel

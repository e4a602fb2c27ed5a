#include "tvd/vswitch/openflow/openflow_codec.h"

#include <gtest/gtest.h>

namespace tvd::vswitch::openflow {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

TEST(OpenFlowCodecTest, FlowAddWithInPortAndEthSrcToNormal) {
  Flow f;
  f.cookie = 0x7476000000000001;
  f.priority = 100;
  f.match.in_port = 3;
  f.match.eth_src = MacAddress{2, 0, 0, 0, 0, 1};
  f.action = Flow::Action::kNormal;
  auto msg = EncodeFlowAdd(f, 7);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(Hex(*msg),
            // header: v1.3, FLOW_MOD, length 96, xid 7
            "040e006000000007"
            // cookie, cookie_mask, table 0, ADD, timeouts 0, priority 100
            "7476000000000001"
            "0000000000000000"
            "00"
            "00"
            "0000"
            "0000"
            "0064"
            // buffer none, out_port any, out_group any, flags, pad
            "ffffffff"
            "ffffffff"
            "ffffffff"
            "0000"
            "0000"
            // match: OXM, length 22; in_port=3; eth_src; pad to 24
            "00010016"
            "80000004"
            "00000003"
            "8000080602000000"
            "0001"
            "0000"
            // APPLY_ACTIONS (24 bytes): OUTPUT NORMAL
            "0004001800000000"
            "00000010fffffffa"
            "ffff000000000000");
}

TEST(OpenFlowCodecTest, MatchWithoutPrerequisiteIsRefused) {
  Flow f;
  f.match.ipv4_src = 1;
  EXPECT_EQ(EncodeFlowAdd(f, 1).status(),
            InvalidArgument("flow match on ipv4_src needs eth_type 0x0800"));
  Flow g;
  g.match.eth_type = kEthTypeIpv4;
  g.match.arp_spa = 1;
  EXPECT_EQ(EncodeFlowAdd(g, 1).status(),
            InvalidArgument("flow match on arp_spa needs eth_type 0x0806"));
}

TEST(OpenFlowCodecTest, DropFlowHasNoInstructions) {
  Flow f;
  auto msg = EncodeFlowAdd(f, 1);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->size(), 56u);  // 48 fixed + 8 empty match
}

TEST(OpenFlowDecoderTest, SplitsMessagesAcrossFeeds) {
  std::string stream = EncodeEchoRequest(5, "hi") + EncodeBarrierRequest(6);
  Decoder d;
  std::vector<Message> out;
  ASSERT_TRUE(d.Feed(stream.substr(0, 5), &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(d.Feed(stream.substr(5), &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, MsgType::kEchoRequest);
  EXPECT_EQ(out[0].xid, 5u);
  EXPECT_EQ(out[0].body, "hi");
  EXPECT_EQ(out[1].type, MsgType::kBarrierRequest);
}

TEST(OpenFlowDecoderTest, BadHeadersAreClearErrors) {
  std::vector<Message> out;
  Decoder a;
  EXPECT_EQ(a.Feed(std::string("\x04\x00\x00\x04\x00\x00\x00\x01", 8), &out),
            ProtocolError("OpenFlow stream at byte 0: length 4 is shorter "
                          "than the header"));
  Decoder b(64);
  EXPECT_EQ(b.Feed(std::string("\x04\x13\x01\x00\x00\x00\x00\x01", 8), &out),
            ProtocolError("OpenFlow stream at byte 0: length 256 exceeds the "
                          "limit of 64 bytes"));
  Decoder c;
  std::string hello = EncodeHello(1);
  hello[0] = 6;  // a switch announcing 1.5 in HELLO is fine
  std::string flow_mod_v1 = EncodeBarrierRequest(2);
  flow_mod_v1[0] = 1;
  EXPECT_EQ(c.Feed(hello + flow_mod_v1, &out),
            ProtocolError("OpenFlow stream at byte 8: version 1 is not "
                          "OpenFlow 1.3 (type 20)"));
  EXPECT_EQ(out.size(), 1u);
}

TEST(OpenFlowBodyTest, ErrorIsDescribed) {
  auto e = ParseError(std::string("\x00\x04\x00\x09rest", 8));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(DescribeError(*e), "BAD_MATCH/BAD_PREREQ (4/9)");
  EXPECT_EQ(DescribeError({200, 3, ""}), "UNKNOWN/3 (200/3)");
  EXPECT_EQ(ParseError("ab").status(),
            ProtocolError("OpenFlow ERROR body of 2 bytes is shorter than 4"));
}

TEST(OpenFlowBodyTest, FlowStatsReplyCookies) {
  std::string body("\x00\x01\x00\x01\x00\x00\x00\x00", 8);  // FLOW, more
  std::string entry(56, '\0');
  entry[1] = 56;
  entry[13] = 100;  // priority
  entry[24] = 0x74;
  entry[25] = 0x76;
  entry[31] = 9;  // cookie
  auto r = ParseFlowStatsReply(body + entry + entry);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->more);
  ASSERT_EQ(r->flows.size(), 2u);
  EXPECT_EQ(r->flows[0].cookie, 0x7476000000000009u);
  EXPECT_EQ(r->flows[0].priority, 100);
  EXPECT_EQ(ParseFlowStatsReply(body + entry.substr(0, 40)).status(),
            ProtocolError("OpenFlow flow stats entry at body byte 8 is "
                          "truncated"));
  std::string bad = entry;
  bad[1] = 120;
  EXPECT_EQ(ParseFlowStatsReply(body + bad).status(),
            ProtocolError("OpenFlow flow stats entry at body byte 8 has bad "
                          "length 120"));
}

TEST(OpenFlowTextTest, MacAndIpv4) {
  auto mac = ParseMac("02:AA:00:00:0b:01");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ((*mac)[1], 0xaa);
  EXPECT_EQ(ParseMac("02:aa:00:00:0b").status(),
            InvalidArgument("MAC address '02:aa:00:00:0b' is not of the form "
                            "aa:bb:cc:dd:ee:ff"));
  EXPECT_EQ(*ParseIpv4("198.18.0.1"), 0xc6120001u);
  EXPECT_EQ(ParseIpv4("198.18.0").status(),
            InvalidArgument("'198.18.0' is not a dotted-quad IPv4 address"));
}

}  // namespace
}  // namespace tvd::vswitch::openflow

// The VICI encoder and decoder: exact bytes, round trips, and the exact error
// for every way the input can be wrong.
#include "tvd/vswitch/vici/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tvd::vici {
namespace {

std::vector<std::uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<std::uint8_t> out;
  for (int b : v) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

void Append(std::vector<std::uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

std::vector<std::uint8_t> ToVector(const SecureBytes& b) {
  return std::vector<std::uint8_t>(b.data(), b.data() + b.size());
}

// The protocol's own example: key1 = value1, section1 { sub-section { key2 =
// value2 } list1 = [item1, item2] }.
std::vector<std::uint8_t> SpecExample() {
  std::vector<std::uint8_t> b;
  b.push_back(3), b.push_back(4), Append(b, "key1"), b.push_back(0),
      b.push_back(6), Append(b, "value1");
  b.push_back(1), b.push_back(8), Append(b, "section1");
  b.push_back(1), b.push_back(11), Append(b, "sub-section");
  b.push_back(3), b.push_back(4), Append(b, "key2"), b.push_back(0),
      b.push_back(6), Append(b, "value2");
  b.push_back(2);
  b.push_back(4), b.push_back(5), Append(b, "list1");
  b.push_back(5), b.push_back(0), b.push_back(5), Append(b, "item1");
  b.push_back(5), b.push_back(0), b.push_back(5), Append(b, "item2");
  b.push_back(6);
  b.push_back(2);
  return b;
}

Message SpecExampleMessage() {
  Message m;
  m.Add("key1", "value1");
  Message& s1 = m.AddSection("section1");
  s1.AddSection("sub-section").Add("key2", "value2");
  s1.AddList("list1", {"item1", "item2"});
  return m;
}

TEST(ViciCodecTest, EncodesTheProtocolExampleByteForByte) {
  StatusOr<SecureBytes> enc = EncodeMessage(SpecExampleMessage());
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(ToVector(*enc), SpecExample());
}

TEST(ViciCodecTest, DecodesTheProtocolExample) {
  StatusOr<Message> m = DecodeMessage(SpecExample());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m, SpecExampleMessage());
  EXPECT_EQ(m->ValueOr("key1", ""), "value1");
  const Message* s1 = m->Section("section1");
  ASSERT_NE(s1, nullptr);
  ASSERT_NE(s1->List("list1"), nullptr);
  EXPECT_EQ(*s1->List("list1"), (std::vector<std::string>{"item1", "item2"}));
  EXPECT_EQ(s1->Section("sub-section")->ValueOr("key2", ""), "value2");
}

TEST(ViciCodecTest, RoundTripsBinaryValuesEmptyListsAndDeepSections) {
  Message m;
  std::string blob("\x00\x01\xff\x7f", 4);
  m.Add("blob", blob);
  m.Add("empty", "");
  m.AddList("none", {});
  Message* cur = &m;
  for (int i = 0; i < 32; ++i) cur = &cur->AddSection("s" + std::to_string(i));
  cur->Add("leaf", std::string(65535, 'x'));
  StatusOr<SecureBytes> enc = EncodeMessage(m);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  StatusOr<Message> dec = DecodeMessage(enc->view());
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, m);
  EXPECT_EQ(dec->ValueOr("blob", ""), blob);
}

TEST(ViciCodecTest, SegmentCarriesLengthTypeNameAndMessage) {
  Packet p;
  p.type = PacketType::kCmdRequest;
  p.name = "version";
  StatusOr<SecureBytes> seg = EncodeSegment(p);
  ASSERT_TRUE(seg.ok());
  std::vector<std::uint8_t> want = Bytes({0, 0, 0, 9, 0, 7});
  Append(want, "version");
  EXPECT_EQ(ToVector(*seg), want);

  Packet ev;
  ev.type = PacketType::kEvent;
  ev.name = "ike-updown";
  ev.message.Add("up", "yes");
  StatusOr<SecureBytes> evseg = EncodeSegment(ev);
  ASSERT_TRUE(evseg.ok());
  StatusOr<Packet> back = DecodePacket(evseg->view().subspan(4));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->type, PacketType::kEvent);
  EXPECT_EQ(back->name, "ike-updown");
  EXPECT_EQ(back->message.ValueOr("up", ""), "yes");
}

TEST(ViciCodecTest, UnnamedPacketsDecodeWithoutName) {
  StatusOr<Packet> confirm = DecodePacket(Bytes({5}));
  ASSERT_TRUE(confirm.ok());
  EXPECT_EQ(confirm->type, PacketType::kEventConfirm);
  EXPECT_TRUE(confirm->name.empty());
  StatusOr<Packet> resp = DecodePacket(Bytes({1, 3, 1, 'a', 0, 1, 'b'}));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->message.ValueOr("a", ""), "b");
}

struct BadMessage {
  const char* what;
  std::vector<std::uint8_t> bytes;
  const char* error;
};

class ViciDecodeErrorTest : public ::testing::TestWithParam<BadMessage> {};

TEST_P(ViciDecodeErrorTest, ReportsExactReason) {
  StatusOr<Message> m = DecodeMessage(GetParam().bytes);
  ASSERT_FALSE(m.ok()) << GetParam().what;
  EXPECT_EQ(m.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(m.status().message(), GetParam().error) << GetParam().what;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ViciDecodeErrorTest,
    ::testing::Values(
        BadMessage{"unknown type", Bytes({9}),
                   "vici message: unknown element type 9 at offset 0"},
        BadMessage{"type zero", Bytes({3, 1, 'a', 0, 0, 0}),
                   "vici message: unknown element type 0 at offset 5"},
        BadMessage{"key without name length", Bytes({3}),
                   "vici message: truncated key name length at offset 0"},
        BadMessage{"truncated key name", Bytes({3, 5, 'a', 'b'}),
                   "vici message: truncated key name (needs 5 bytes, 2 left) "
                   "at offset 0"},
        BadMessage{"empty key name", Bytes({3, 0, 0, 0}),
                   "vici message: empty key name at offset 0"},
        BadMessage{"key without value length", Bytes({3, 1, 'a', 0}),
                   "vici message: truncated key value length at offset 0"},
        BadMessage{"truncated value", Bytes({3, 1, 'a', 0, 9, 'x'}),
                   "vici message: truncated key value (needs 9 bytes, 1 left) "
                   "at offset 0"},
        BadMessage{"section end at root", Bytes({2}),
                   "vici message: section end with no open section at offset "
                   "0"},
        BadMessage{"unclosed section", Bytes({1, 1, 's'}),
                   "vici message: section 's' not closed at offset 3"},
        BadMessage{"item outside list", Bytes({5, 0, 0}),
                   "vici message: list item outside a list at offset 0"},
        BadMessage{"list end without list", Bytes({6}),
                   "vici message: list end with no open list at offset 0"},
        BadMessage{"key inside list", Bytes({4, 1, 'l', 3, 1, 'a', 0, 0, 6}),
                   "vici message: element type 3 inside list 'l' at offset 3"},
        BadMessage{"section inside list", Bytes({4, 1, 'l', 1, 1, 's', 2, 6}),
                   "vici message: element type 1 inside list 'l' at offset 3"},
        BadMessage{"unclosed list", Bytes({4, 1, 'l', 5, 0, 1, 'x'}),
                   "vici message: list 'l' not closed at offset 0"},
        BadMessage{"truncated list item", Bytes({4, 1, 'l', 5, 0, 4, 'x'}),
                   "vici message: truncated list item value (needs 4 bytes, 1 "
                   "left) at offset 3"},
        BadMessage{"repeated key", Bytes({3, 1, 'a', 0, 0, 3, 1, 'a', 0, 0}),
                   "vici message: repeated name 'a' at offset 5"},
        BadMessage{"key repeats a section",
                   Bytes({1, 1, 'a', 2, 3, 1, 'a', 0, 0}),
                   "vici message: repeated name 'a' at offset 4"}));

TEST(ViciCodecTest, NestingDeeperThanTheCapIsRefused) {
  std::vector<std::uint8_t> b;
  for (std::size_t i = 0; i <= kMaxNestingDepth; ++i) {
    b.push_back(1), b.push_back(1), b.push_back('s');
  }
  for (std::size_t i = 0; i <= kMaxNestingDepth; ++i) b.push_back(2);
  StatusOr<Message> m = DecodeMessage(b);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "vici message: sections nested deeper than 32 at offset 96");
  // Exactly at the cap it decodes.
  std::vector<std::uint8_t> ok(b.begin() + 3, b.end() - 1);
  EXPECT_TRUE(DecodeMessage(ok).ok());
}

TEST(ViciCodecTest, OversizeInputIsRefused) {
  std::vector<std::uint8_t> big(kMaxSegmentSize + 1, 0);
  StatusOr<Message> m = DecodeMessage(big);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "vici message: 524289 bytes exceeds the 524288-byte limit");
}

TEST(ViciCodecTest, PacketErrorsNameThePacket) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    const char* error;
  };
  std::vector<Case> cases = {
      {{}, "vici packet: empty"},
      {Bytes({8}), "vici packet: unknown packet type 8"},
      {Bytes({0}), "vici packet: cmd-request truncated before its name"},
      {Bytes({7, 0}), "vici packet: event has an empty name"},
      {Bytes({3, 4, 'a'}),
       "vici packet: event-register name truncated (needs 4 bytes, 1 left)"},
      {Bytes({5, 1}), "vici packet: event-confirm has 1 trailing bytes"},
      {Bytes({7, 1, 'e', 2}),
       "vici packet event 'e' (message starts at offset 3): vici message: "
       "section end with no open section at offset 0"},
  };
  for (const Case& c : cases) {
    StatusOr<Packet> p = DecodePacket(c.bytes);
    ASSERT_FALSE(p.ok()) << c.error;
    EXPECT_EQ(p.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(p.status().message(), c.error);
  }
}

TEST(ViciCodecTest, EncoderRefusesWhatCharonWouldReject) {
  Message long_name;
  long_name.Add(std::string(256, 'n'), "v");
  EXPECT_EQ(EncodeMessage(long_name).status().message(),
            "vici encode: name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 256 "
            "bytes, the limit is 255");
  Message long_value;
  long_value.Add("k", std::string(65536, 'v'));
  EXPECT_EQ(EncodeMessage(long_value).status().message(),
            "vici encode: value of 'k' is 65536 bytes, the limit is 65535");
  Message dup;
  dup.AddSection("conn").Add("a", "1").Add("a", "2");
  EXPECT_EQ(EncodeMessage(dup).status().message(),
            "vici encode: name 'a' repeats in section 'conn'");
  Message empty;
  empty.Add("", "v");
  EXPECT_EQ(EncodeMessage(empty).status().message(),
            "vici encode: empty name in root");

  Packet unnamed;
  unnamed.type = PacketType::kCmdRequest;
  EXPECT_EQ(EncodeSegment(unnamed).status().message(),
            "vici encode: empty name in cmd-request packet");
  Packet named_confirm;
  named_confirm.type = PacketType::kEventConfirm;
  named_confirm.name = "x";
  EXPECT_EQ(EncodeSegment(named_confirm).status().message(),
            "vici encode: event-confirm packets carry no name");
  Packet big;
  big.type = PacketType::kCmdRequest;
  big.name = "load-conn";
  for (int i = 0; i < 9; ++i) {
    big.message.Add("k" + std::to_string(i), std::string(65000, 'x'));
  }
  EXPECT_EQ(EncodeSegment(big).status().message(),
            "vici encode: packet of 585065 bytes exceeds the 524288-byte "
            "segment limit");
}

TEST(ViciSegmentReaderTest, ReassemblesSegmentsSplitAnywhere) {
  std::vector<std::uint8_t> stream;
  for (int i = 0; i < 3; ++i) {
    Packet p;
    p.type = PacketType::kEvent;
    p.name = "e" + std::to_string(i);
    p.message.Add("i", std::to_string(i));
    StatusOr<SecureBytes> s = EncodeSegment(p);
    ASSERT_TRUE(s.ok());
    stream.insert(stream.end(), s->data(), s->data() + s->size());
  }
  SegmentReader r;
  std::vector<std::string> names;
  for (std::uint8_t byte : stream) {
    r.Append(std::span<const std::uint8_t>(&byte, 1));
    StatusOr<std::optional<SecureBytes>> next = r.Next();
    ASSERT_TRUE(next.ok());
    if (next->has_value()) {
      StatusOr<Packet> p = DecodePacket((*next)->view());
      ASSERT_TRUE(p.ok());
      names.push_back(p->name);
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"e0", "e1", "e2"}));
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(ViciSegmentReaderTest, BadLengthsFailAndStayFailed) {
  SegmentReader zero;
  zero.Append(Bytes({0, 0, 0, 0, 1}));
  EXPECT_EQ(zero.Next().status().message(), "vici segment: length 0 is empty");
  SegmentReader big;
  big.Append(Bytes({0, 8, 0, 1}));
  EXPECT_EQ(big.Next().status().message(),
            "vici segment: length 524289 exceeds the 524288-byte limit");
  big.Append(Bytes({0, 0, 0, 1, 5}));
  EXPECT_FALSE(big.Next().ok());
}

TEST(ViciMessageTest, DebugStringRedactsSecrets) {
  Message m;
  m.Add("id", "tvd-blue-h2");
  const std::uint8_t secret[] = {'s', '3', 'c', 'r', '3', 't'};
  m.AddSecret("data", secret);
  std::string s = m.DebugString();
  EXPECT_NE(s.find("id = tvd-blue-h2"), std::string::npos);
  EXPECT_NE(s.find("data = <redacted>"), std::string::npos);
  EXPECT_EQ(s.find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace tvd::vici

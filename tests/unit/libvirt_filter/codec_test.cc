// XDR, packet framing and the REMOTE program shapes.
#include <gtest/gtest.h>

#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/libvirt_filter/rpc_packet.h"
#include "tvd/libvirt_filter/xdr.h"

namespace tvd::libvirt_filter {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(XdrTest, StringsArePaddedToFourBytes) {
  XdrWriter w;
  w.String("abcde");
  EXPECT_EQ(w.bytes(), (Bytes{0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0, 0}));
  XdrReader r(w.bytes());
  StatusOr<std::string> s = r.String("s", 10);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "abcde");
  EXPECT_TRUE(r.AtEnd());
}

TEST(XdrTest, TruncatedFieldNamesFieldAndOffset) {
  Bytes b{0, 0, 0, 9, 'a'};
  XdrReader r(b);
  EXPECT_EQ(r.String("domain name", 100).status(),
            ProtocolError("XDR field 'domain name' at offset 4 needs 12 "
                          "bytes, 1 left"));
}

TEST(XdrTest, OversizedLengthIsRefusedBeforeReading) {
  Bytes b{0xff, 0xff, 0xff, 0xff};
  XdrReader r(b);
  EXPECT_EQ(r.String("xml", 4194304).status(),
            ProtocolError("XDR field 'xml' at offset 0 has length 4294967295, "
                          "over the limit of 4194304"));
}

TEST(XdrTest, BooleansAreZeroOrOne) {
  Bytes b{0, 0, 0, 2};
  XdrReader r(b);
  EXPECT_EQ(
      r.Bool("flag").status(),
      ProtocolError("XDR field 'flag' at offset 0 is 2, expected 0 or 1"));
}

TEST(XdrTest, UuidText) {
  std::optional<Uuid> u =
      UuidFromString("B1000000-0000-4000-8000-00000000000A");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(UuidToString(*u), "b1000000-0000-4000-8000-00000000000a");
  EXPECT_FALSE(UuidFromString("b1000000000040008000000000000000").has_value());
  EXPECT_FALSE(UuidFromString("g1000000-0000-4000-8000-000000000001"));
}

PacketHeader CallHeader(std::int32_t proc, std::uint32_t serial) {
  PacketHeader h;
  h.program = kRemoteProgram;
  h.version = kRemoteVersion;
  h.procedure = proc;
  h.type = MessageType::kCall;
  h.serial = serial;
  return h;
}

TEST(PacketTest, RoundTrip) {
  Bytes wire = EncodePacket(CallHeader(273, 7), Bytes{0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_EQ(wire.size(), 36u);
  EXPECT_EQ((Bytes{wire.begin(), wire.begin() + 8}),
            (Bytes{0, 0, 0, 36, 0x20, 0x00, 0x80, 0x86}));
  StatusOr<Packet> p = DecodePacket(wire);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->header, CallHeader(273, 7));
  EXPECT_EQ(p->payload.size(), 8u);
}

TEST(PacketTest, LengthLimits) {
  EXPECT_EQ(DecodePacketLength(Bytes{0, 0, 0, 27}).status(),
            ProtocolError("packet length 27 is below the minimum of 28 bytes"));
  EXPECT_EQ(DecodePacketLength(Bytes{1, 0, 0, 1}).status(),
            ProtocolError("packet length 16777217 is over the limit of "
                          "16777216 bytes"));
  StatusOr<std::size_t> max = DecodePacketLength(Bytes{1, 0, 0, 0});
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, kMaxPacketSize);
}

TEST(PacketTest, LengthWordMustMatchThePacket) {
  Bytes wire = EncodePacket(CallHeader(1, 1), {});
  wire.push_back(0);
  EXPECT_EQ(DecodePacket(wire).status(),
            ProtocolError("packet length word says 28 bytes, packet has 29"));
}

TEST(PacketTest, UnknownTypeAndStatusAreRefused) {
  Bytes wire = EncodePacket(CallHeader(1, 1), {});
  wire[19] = 7;
  EXPECT_EQ(DecodePacket(wire).status(),
            ProtocolError("unknown message type 7"));
  wire[19] = 0;
  wire[27] = 3;
  EXPECT_EQ(DecodePacket(wire).status(),
            ProtocolError("unknown message status 3"));
}

TEST(PacketAssemblerTest, CutsAStreamIntoPackets) {
  Bytes a = EncodePacket(CallHeader(3, 1), {});
  Bytes b = EncodePacket(CallHeader(4, 2), Bytes{1, 2, 3, 4});
  Bytes stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  PacketAssembler as;
  Packet p;
  // Byte by byte: nothing until a packet is whole.
  int got = 0;
  for (std::uint8_t byte : stream) {
    as.Append({&byte, 1});
    StatusOr<bool> r = as.Next(p);
    ASSERT_TRUE(r.ok());
    if (*r) {
      ++got;
      EXPECT_EQ(p.header.serial, static_cast<std::uint32_t>(got));
    }
  }
  EXPECT_EQ(got, 2);
  EXPECT_EQ(as.buffered(), 0u);
}

TEST(PacketAssemblerTest, ErrorsAreFinal) {
  PacketAssembler as;
  Bytes bad{0xff, 0xff, 0xff, 0xff};
  as.Append(bad);
  Packet p;
  EXPECT_EQ(as.Next(p).status().code(), ErrorCode::kProtocol);
  as.Append(EncodePacket(CallHeader(3, 1), {}));
  EXPECT_EQ(as.Next(p).status().code(), ErrorCode::kProtocol);
}

TEST(RemoteProtocolTest, ErrorRoundTrip) {
  RemoteError e = DeniedError("procedure 8 is not available");
  e.dom = RemoteDomain{"vm", Uuid{1, 2, 3}, 4};
  StatusOr<RemoteError> back = DecodeError(EncodeError(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->code, kErrOperationDenied);
  EXPECT_EQ(*back->message,
            "operation forbidden: procedure 8 is not available");
  EXPECT_EQ(*back->dom, *e.dom);
  EXPECT_EQ(*back->str2, "procedure 8 is not available");
}

TEST(RemoteProtocolTest, ErrorReplyAnswersTheCall) {
  Bytes wire = ErrorReply(CallHeader(23, 9), NoDomainError("x"));
  StatusOr<Packet> p = DecodePacket(wire);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->header.type, MessageType::kReply);
  EXPECT_EQ(p->header.status, MessageStatus::kError);
  EXPECT_EQ(p->header.serial, 9u);
  EXPECT_EQ(p->header.procedure, 23);
}

TEST(RemoteProtocolTest, DomainListRoundTrip) {
  DomainList l;
  l.domains = {RemoteDomain{"a", Uuid{1}, 1}, RemoteDomain{"bb", Uuid{2}, -1}};
  l.ret = 2;
  StatusOr<DomainList> back = DecodeDomainList(EncodeDomainList(l));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->domains, l.domains);
  EXPECT_EQ(back->ret, 2u);
}

TEST(RemoteProtocolTest, DomainListCountIsBounded) {
  Bytes b{0, 1, 0, 0};  // 65536 entries
  EXPECT_EQ(DecodeDomainList(b).status(),
            ProtocolError("domain list has 65536 entries, over the limit of "
                          "16384"));
}

TEST(RemoteProtocolTest, DomainStatsRecordsKeepTheirBytes) {
  XdrWriter w;
  w.U32(2);
  for (int i = 0; i < 2; ++i) {
    WriteDomain(
        w, RemoteDomain{"vm" + std::to_string(i), Uuid{std::uint8_t(i)}, i});
    w.U32(3);  // params
    w.String("state.state");
    w.I32(1);  // int
    w.I32(5);
    w.String("balloon.current");
    w.I32(4);  // ullong
    w.U64(1024);
    w.String("name");
    w.I32(7);  // string
    w.String("x");
  }
  Bytes payload = w.Take();
  StatusOr<std::vector<DomainStatsRecord>> recs =
      DecodeAllDomainStatsRet(payload);
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[1].dom.name, "vm1");
  EXPECT_EQ(EncodeAllDomainStatsRet(*recs), payload);
  payload[payload.size() - 12] = 9;  // unknown parameter type
  EXPECT_FALSE(DecodeAllDomainStatsRet(payload).ok());
}

}  // namespace
}  // namespace tvd::libvirt_filter

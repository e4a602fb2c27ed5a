// The per-tenant filter against a fake libvirtd directory: what is forwarded,
// answered, rewritten or dropped.
#include "tvd/libvirt_filter/session_filter.h"

#include <gtest/gtest.h>

#include <map>

#include "tvd/libvirt_filter/remote_protocol.h"

namespace tvd::libvirt_filter {
namespace {

using Bytes = std::vector<std::uint8_t>;

RemoteDomain Dom(const std::string& name, std::uint8_t tag, std::int32_t id) {
  Uuid u{};
  u[0] = tag;
  return RemoteDomain{name, u, id};
}

class FakeLibvirt : public DomainDirectory {
 public:
  struct Entry {
    RemoteDomain dom;
    std::string owner;
  };
  std::vector<Entry> domains;

  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override {
    for (const Entry& e : domains) {
      if (e.dom.uuid == dom.uuid) {
        if (e.owner.empty())
          return std::string("<domain><name>x</name></domain>");
        return "<domain><name>x</name><metadata><t:tvd xmlns:t='urn:tvd:vm:1' "
               "owner='" +
               e.owner + "'/></metadata></domain>";
      }
    }
    return NotFound("Domain not found");
  }
  StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string& name) override {
    for (const Entry& e : domains) {
      if (e.dom.name == name) return std::optional<RemoteDomain>(e.dom);
    }
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::optional<RemoteDomain>> LookupByUuid(const Uuid& u) override {
    for (const Entry& e : domains) {
      if (e.dom.uuid == u) return std::optional<RemoteDomain>(e.dom);
    }
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t id) override {
    for (const Entry& e : domains) {
      if (e.dom.id == id) return std::optional<RemoteDomain>(e.dom);
    }
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t flags) override {
    std::vector<RemoteDomain> out;
    for (const Entry& e : domains) {
      bool active = e.dom.id > 0;
      if ((flags & kListDomainsActive) && !active) continue;
      if ((flags & kListDomainsInactive) && active) continue;
      out.push_back(e.dom);
    }
    return out;
  }
};

TenantScope BlueScope() {
  TenantScope s;
  s.tvd = "blue";
  s.storage_path = "/var/lib/tvd/blue";
  s.networks = {"blue-data"};
  return s;
}

class SessionFilterTest : public ::testing::Test {
 protected:
  SessionFilterTest()
      : cache_(libvirt_),
        filter_(BlueScope(), cache_, libvirt_, not_found_, "test:///default") {
    libvirt_.domains = {{Dom("blue-a", 1, 1), "blue"},
                        {Dom("blue-b", 2, -1), "blue"},
                        {Dom("red-a", 3, 2), "red"},
                        {Dom("admin", 4, 3), ""}};
  }

  static Packet MakePacket(std::uint32_t program, std::int32_t proc,
                           MessageType type, std::uint32_t serial,
                           Bytes payload,
                           MessageStatus status = MessageStatus::kOk) {
    Packet p;
    p.header = PacketHeader{program, 1, proc, type, serial, status};
    p.payload = std::move(payload);
    return p;
  }
  static Packet CallOf(std::int32_t proc, std::uint32_t serial,
                       Bytes args = {}) {
    return MakePacket(kRemoteProgram, proc, MessageType::kCall, serial,
                      std::move(args));
  }
  static Packet ReplyOf(std::int32_t proc, std::uint32_t serial, Bytes ret) {
    return MakePacket(kRemoteProgram, proc, MessageType::kReply, serial,
                      std::move(ret));
  }
  static Bytes DomArgs(const RemoteDomain& d, Bytes rest = {}) {
    XdrWriter w;
    WriteDomain(w, d);
    w.Raw(rest);
    return w.Take();
  }
  // Sends a call, expects it forwarded, answers it with `ret`, returns what
  // reached the client.
  Packet RoundTrip(Packet call, Bytes ret) {
    std::int32_t proc = call.header.procedure;
    std::uint32_t serial = call.header.serial;
    FilterOutput out;
    filter_.OnClientPacket(std::move(call), out);
    EXPECT_TRUE(out.close.ok()) << out.close.ToString();
    EXPECT_EQ(out.to_upstream.size(), 1u);
    EXPECT_TRUE(out.to_client.empty());
    FilterOutput back;
    filter_.OnUpstreamPacket(ReplyOf(proc, serial, std::move(ret)), back);
    EXPECT_EQ(back.to_client.size(), 1u);
    if (back.to_client.empty()) return Packet{};
    return *DecodePacket(back.to_client.front());
  }
  // Sends a call the relay answers itself.
  Packet Answered(Packet call) {
    FilterOutput out;
    filter_.OnClientPacket(std::move(call), out);
    EXPECT_TRUE(out.to_upstream.empty());
    EXPECT_EQ(out.to_client.size(), 1u);
    if (out.to_client.empty()) return Packet{};
    return *DecodePacket(out.to_client.front());
  }
  static std::string ErrorText(const Packet& p) {
    EXPECT_EQ(p.header.status, MessageStatus::kError);
    StatusOr<RemoteError> e = DecodeError(p.payload);
    return e.ok() ? e->message.value_or("") : e.status().ToString();
  }

  FakeLibvirt libvirt_;
  NotFoundReplies not_found_;
  OwnershipCache cache_;
  SessionFilter filter_;
};

TEST_F(SessionFilterTest, ConnectOpenUriIsPinned) {
  OpenArgs a;
  a.name = "qemu:///system";
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcConnectOpen, 1, EncodeOpenArgs(a)), out);
  ASSERT_EQ(out.to_upstream.size(), 1u);
  StatusOr<Packet> sent = DecodePacket(out.to_upstream.front());
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*DecodeOpenArgs(sent->payload)->name, "test:///default");
}

TEST_F(SessionFilterTest, ListAllDomainsIsFiltered) {
  XdrWriter args;
  args.I32(1);
  args.U32(0);
  DomainList all;
  for (const auto& e : libvirt_.domains) all.domains.push_back(e.dom);
  all.ret = 4;
  Packet p = RoundTrip(CallOf(kProcConnectListAllDomains, 5, args.Take()),
                       EncodeDomainList(all));
  StatusOr<DomainList> seen = DecodeDomainList(p.payload);
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->domains.size(), 2u);
  EXPECT_EQ(seen->domains[0].name, "blue-a");
  EXPECT_EQ(seen->domains[1].name, "blue-b");
  EXPECT_EQ(seen->ret, 2u);
}

TEST_F(SessionFilterTest, ListAllDomainsCountOnlyIsRecomputed) {
  XdrWriter args;
  args.I32(0);  // need_results = 0: only the count
  args.U32(kListDomainsActive);
  DomainList none;
  none.ret = 3;
  Packet p = RoundTrip(CallOf(kProcConnectListAllDomains, 5, args.Take()),
                       EncodeDomainList(none));
  EXPECT_EQ(DecodeDomainList(p.payload)->ret, 1u);
}

TEST_F(SessionFilterTest, IdAndNameListsAreFiltered) {
  Packet ids = RoundTrip(CallOf(kProcConnectListDomains, 1, EncodeInt(10)),
                         EncodeIdList({1, 2, 3}));
  EXPECT_EQ(*DecodeIdList(ids.payload), std::vector<std::int32_t>{1});
  Packet names =
      RoundTrip(CallOf(kProcConnectListDefinedDomains, 2, EncodeInt(10)),
                EncodeNameList({"blue-b", "red-a", "admin", "gone"}));
  EXPECT_EQ(*DecodeNameList(names.payload), std::vector<std::string>{"blue-b"});
}

// libvirtd would cut the list at the client's maximum before the relay
// filters it; the relay asks for all and cuts after filtering.
TEST_F(SessionFilterTest, ListMaximumAppliesAfterFiltering) {
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcConnectListDomains, 1, EncodeInt(1)), out);
  ASSERT_EQ(out.to_upstream.size(), 1u);
  StatusOr<Packet> sent = DecodePacket(out.to_upstream.front());
  EXPECT_EQ(*DecodeInt(sent->payload), 16384);
  FilterOutput back;
  filter_.OnUpstreamPacket(
      ReplyOf(kProcConnectListDomains, 1, EncodeIdList({3, 2, 1})), back);
  ASSERT_EQ(back.to_client.size(), 1u);
  EXPECT_EQ(*DecodeIdList(DecodePacket(back.to_client.front())->payload),
            std::vector<std::int32_t>{1});
  filter_.OnClientPacket(
      CallOf(kProcConnectListDefinedDomains, 2, EncodeInt(-1)), out);
  EXPECT_EQ(out.close.code(), ErrorCode::kProtocol);
}

TEST_F(SessionFilterTest, CountsAreAnsweredFromTheTenantsView) {
  EXPECT_EQ(*DecodeInt(Answered(CallOf(kProcConnectNumOfDomains, 1)).payload),
            1);
  EXPECT_EQ(
      *DecodeInt(Answered(CallOf(kProcConnectNumOfDefinedDomains, 2)).payload),
      1);
}

TEST_F(SessionFilterTest, LookupOfForeignDomainLooksMissing) {
  Bytes ret = DomArgs(Dom("red-a", 3, 2));
  Packet by_name = RoundTrip(
      CallOf(kProcDomainLookupByName, 1, EncodeStringRet("red-a")), ret);
  EXPECT_EQ(ErrorText(by_name),
            "Domain not found: no domain with matching name 'red-a'");
  Packet by_id = RoundTrip(CallOf(kProcDomainLookupById, 2, EncodeInt(2)), ret);
  EXPECT_EQ(ErrorText(by_id), "Domain not found: no domain with matching id 2");
  XdrWriter u;
  u.FixedUuid(Dom("red-a", 3, 2).uuid);
  Packet by_uuid = RoundTrip(CallOf(kProcDomainLookupByUuid, 3, u.Take()), ret);
  EXPECT_EQ(ErrorText(by_uuid),
            "Domain not found: no domain with matching uuid "
            "'03000000-0000-0000-0000-000000000000'");
  Packet own =
      RoundTrip(CallOf(kProcDomainLookupByName, 4, EncodeStringRet("blue-a")),
                DomArgs(Dom("blue-a", 1, 1)));
  EXPECT_EQ(own.header.status, MessageStatus::kOk);
}

TEST_F(SessionFilterTest, CallsOnForeignDomainsAreNotForwarded) {
  for (std::int32_t proc : {kProcDomainGetXmlDesc, kProcDomainDestroy,
                            kProcDomainCreate, kProcDomainUndefineFlags}) {
    Packet p =
        Answered(CallOf(proc, 1, DomArgs(Dom("red-a", 3, 2), {0, 0, 0, 0})));
    EXPECT_EQ(ErrorText(p),
              "Domain not found: no domain with matching uuid "
              "'03000000-0000-0000-0000-000000000000' (red-a)");
  }
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcDomainGetXmlDesc, 2,
                                DomArgs(Dom("blue-a", 1, 1), {0, 0, 0, 0})),
                         out);
  EXPECT_EQ(out.to_upstream.size(), 1u);
}

TEST_F(SessionFilterTest, UnknownProcedureProgramAndFdsAreDenied) {
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainAttachDevice, 1))),
            "operation forbidden: procedure 8 is not available through the "
            "TVD relay");
  EXPECT_EQ(ErrorText(Answered(
                MakePacket(kQemuProgram, 1, MessageType::kCall, 2, {}))),
            "operation forbidden: RPC program 0x20008087 is not available "
            "through the TVD relay");
  EXPECT_EQ(ErrorText(Answered(MakePacket(kRemoteProgram, 3,
                                          MessageType::kCallWithFds, 3, {}))),
            "operation forbidden: passing file descriptors is not available "
            "through the TVD relay");
}

TEST_F(SessionFilterTest, HostObjectListsAreEmpty) {
  EXPECT_EQ(*DecodeInt(Answered(CallOf(kProcConnectNumOfNetworks, 1)).payload),
            0);
  Packet nets = Answered(
      CallOf(kProcConnectListAllNetworks, 2, {0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(DecodeDomainList(nets.payload)->ret, 0u);
}

TEST_F(SessionFilterTest, NonCallMessagesCloseTheConnection) {
  FilterOutput out;
  filter_.OnClientPacket(
      MakePacket(kRemoteProgram, 3, MessageType::kReply, 1, {}), out);
  EXPECT_EQ(out.close,
            ProtocolError("tenant sent message type 1; only calls and "
                          "keepalives are accepted"));
}

TEST_F(SessionFilterTest, KeepaliveIsForwardedBothWays) {
  FilterOutput out;
  filter_.OnClientPacket(MakePacket(kKeepaliveProgram, kKeepalivePing,
                                    MessageType::kMessage, 0, {}),
                         out);
  EXPECT_EQ(out.to_upstream.size(), 1u);
  filter_.OnUpstreamPacket(MakePacket(kKeepaliveProgram, kKeepalivePing,
                                      MessageType::kMessage, 0, {}),
                           out);
  EXPECT_EQ(out.to_client.size(), 1u);
}

TEST_F(SessionFilterTest, EventsReachOnlyTheOwner) {
  XdrWriter own;
  WriteDomain(own, Dom("blue-a", 1, 1));
  own.I32(2);
  own.I32(0);
  XdrWriter foreign;
  WriteDomain(foreign, Dom("red-a", 3, 2));
  foreign.I32(2);
  foreign.I32(0);
  FilterOutput out;
  filter_.OnUpstreamPacket(MakePacket(kRemoteProgram, kProcDomainEventLifecycle,
                                      MessageType::kMessage, 0, own.Take()),
                           out);
  filter_.OnUpstreamPacket(MakePacket(kRemoteProgram, kProcDomainEventLifecycle,
                                      MessageType::kMessage, 0, foreign.Take()),
                           out);
  EXPECT_EQ(out.to_client.size(), 1u);
}

TEST_F(SessionFilterTest, CallbackEventsNeedTheTenantsCallbackId) {
  CallbackRegisterArgs a;
  a.event_id = 0;
  Packet reg = RoundTrip(CallOf(kProcConnectDomainEventCallbackRegisterAny, 1,
                                EncodeCallbackRegisterArgs(a)),
                         EncodeInt(17));
  EXPECT_EQ(reg.header.status, MessageStatus::kOk);
  auto event = [](std::int32_t callback, const RemoteDomain& d) {
    XdrWriter w;
    w.I32(callback);
    WriteDomain(w, d);
    w.I32(2);
    w.I32(0);
    return MakePacket(kRemoteProgram, kProcDomainEventCallbackLifecycle,
                      MessageType::kMessage, 0, w.Take());
  };
  FilterOutput out;
  filter_.OnUpstreamPacket(event(17, Dom("blue-a", 1, 1)), out);
  filter_.OnUpstreamPacket(event(17, Dom("red-a", 3, 2)), out);
  filter_.OnUpstreamPacket(event(18, Dom("blue-a", 1, 1)), out);
  EXPECT_EQ(out.to_client.size(), 1u);
  // Registering for a foreign domain's events looks like a missing domain.
  a.dom = Dom("red-a", 3, 2);
  Packet p = Answered(CallOf(kProcConnectDomainEventCallbackRegisterAny, 2,
                             EncodeCallbackRegisterArgs(a)));
  EXPECT_EQ(p.header.status, MessageStatus::kError);
}

TEST_F(SessionFilterTest, DefineIsConfinedAndCached) {
  XmlArgs a;
  a.xml = "<domain type='test'><name>blue-new</name></domain>";
  a.flags = 0;
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcDomainDefineXmlFlags, 1, EncodeXmlArgs(a)),
                         out);
  ASSERT_EQ(out.to_upstream.size(), 1u);
  StatusOr<Packet> sent = DecodePacket(out.to_upstream.front());
  std::string xml = DecodeXmlArgs(sent->payload, true)->xml;
  EXPECT_NE(xml.find("owner=\"blue\""), std::string::npos) << xml;
  FilterOutput back;
  RemoteDomain created = Dom("blue-new", 9, -1);
  filter_.OnUpstreamPacket(
      ReplyOf(kProcDomainDefineXmlFlags, 1, DomArgs(created)), back);
  EXPECT_EQ(back.to_client.size(), 1u);
  // Known to be blue's without asking libvirtd (the fake does not know it).
  EXPECT_TRUE(cache_.Owns("blue", created));
}

TEST_F(SessionFilterTest, DefineOverForeignNameIsDenied) {
  XmlArgs a;
  a.xml = "<domain type='test'><name>admin</name></domain>";
  EXPECT_EQ(
      ErrorText(Answered(CallOf(kProcDomainDefineXml, 1, EncodeXmlArgs(a)))),
      "operation forbidden: domain name 'admin' is not available to this "
      "tenant");
}

TEST_F(SessionFilterTest, RenameToAForeignNameIsDenied) {
  XdrWriter w;
  WriteDomain(w, Dom("blue-b", 2, -1));
  w.OptionalString(std::string("red-a"));
  w.U32(0);
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainRename, 1, w.Take()))),
            "operation forbidden: domain name 'red-a' is not available to this "
            "tenant");
  XdrWriter ok;
  WriteDomain(ok, Dom("blue-b", 2, -1));
  ok.OptionalString(std::string("blue-c"));
  ok.U32(0);
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcDomainRename, 2, ok.Take()), out);
  EXPECT_EQ(out.to_upstream.size(), 1u);
}

TEST_F(SessionFilterTest, SetMetadataOnTheTvdNamespaceIsDenied) {
  XdrWriter w;
  WriteDomain(w, Dom("blue-a", 1, 1));
  w.I32(2);
  w.OptionalString(std::string("<tvd owner='red'/>"));
  w.OptionalString(std::string("tvd"));
  w.OptionalString(std::string("urn:tvd:vm:1"));
  w.U32(0);
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainSetMetadata, 1, w.Take()))),
            "operation forbidden: the TVD metadata (urn:tvd:vm:1) is managed "
            "by the TVD and cannot be changed");
}

TEST_F(SessionFilterTest, TruncatedArgumentsCloseTheConnection) {
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcDomainGetXmlDesc, 1, {0, 0, 0, 9}), out);
  EXPECT_EQ(out.close.code(), ErrorCode::kProtocol);
  EXPECT_TRUE(out.to_upstream.empty());
}

TEST_F(SessionFilterTest, ReusedSerialClosesTheConnection) {
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcConnectGetType, 4), out);
  filter_.OnClientPacket(CallOf(kProcConnectGetType, 4), out);
  EXPECT_EQ(out.close,
            ProtocolError("serial 4 reused while its call is outstanding"));
}

TEST_F(SessionFilterTest, StatsOfForeignDomainsAreDropped) {
  XdrWriter args;
  args.U32(0);
  args.U32(1);
  args.U32(0);
  XdrWriter ret;
  ret.U32(2);
  WriteDomain(ret, Dom("blue-a", 1, 1));
  ret.U32(0);
  WriteDomain(ret, Dom("red-a", 3, 2));
  ret.U32(0);
  Packet p = RoundTrip(CallOf(kProcConnectGetAllDomainStats, 1, args.Take()),
                       ret.Take());
  auto recs = DecodeAllDomainStatsRet(p.payload);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ((*recs)[0].dom.name, "blue-a");
}

}  // namespace
}  // namespace tvd::libvirt_filter

// The per-tenant filter against a fake libvirtd directory: what is forwarded,
// answered, rewritten or dropped.
#include "tvd/libvirt_filter/session_filter.h"

#include <gtest/gtest.h>

#include <map>

#include "fake_directory.h"
#include "tvd/libvirt_filter/remote_protocol.h"

namespace tvd::libvirt_filter {
namespace {

using Bytes = std::vector<std::uint8_t>;

RemoteDomain Dom(const std::string& name, std::uint8_t tag, std::int32_t id) {
  Uuid u{};
  u[0] = tag;
  return RemoteDomain{name, u, id};
}

struct FakeLibvirtEntry {
  RemoteDomain dom;
  std::string owner;
  std::string devices = "";       // inside <devices>
  std::string tvd_children = "";  // inside the TVD metadata element
};

class FakeLibvirt : public testing::FakeDirectoryLookups<FakeLibvirtEntry> {
 public:
  using Entry = FakeLibvirtEntry;

  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override {
    for (const Entry& e : domains) {
      if (e.dom.uuid == dom.uuid) {
        std::string xml = "<domain><name>" + e.dom.name + "</name><devices>" +
                          e.devices + "</devices>";
        if (!e.owner.empty()) {
          xml += "<metadata><t:tvd xmlns:t='urn:tvd:vm:1' owner='" + e.owner +
                 "'>" + e.tvd_children + "</t:tvd></metadata>";
        }
        return xml + "</domain>";
      }
    }
    return NotFound("Domain not found");
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

// Records every image it is asked about; refuses with `refusal` when set.
class FakeDiskChecker : public DiskImageChecker {
 public:
  struct Call {
    std::string path;
    std::string format;
    std::string storage_path;
    friend bool operator==(const Call&, const Call&) = default;
  };
  std::vector<Call> calls;
  Status refusal;

  Status Check(const std::string& path, std::string_view format,
               const std::string& storage_path) override {
    calls.push_back(Call{path, std::string(format), storage_path});
    return refusal;
  }
};

class SessionFilterTest : public ::testing::Test {
 protected:
  SessionFilterTest()
      : cache_(libvirt_),
        filter_(TenantScope{"blue", "/var/lib/tvd/blue", {"blue-data"}}, cache_,
                libvirt_, not_found_, disks_, "test:///default") {
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

  static RemoteError ErrorOf(const Packet& p) {
    EXPECT_EQ(p.header.status, MessageStatus::kError);
    StatusOr<RemoteError> e = DecodeError(p.payload);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : RemoteError{};
  }
  // The XML a forwarded define/create call carries.
  static std::string SentXml(const FilterOutput& out, bool has_flags) {
    EXPECT_EQ(out.to_upstream.size(), 1u);
    if (out.to_upstream.empty()) return "";
    StatusOr<Packet> sent = DecodePacket(out.to_upstream.front());
    EXPECT_TRUE(sent.ok());
    StatusOr<XmlArgs> a = DecodeXmlArgs(sent->payload, has_flags);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? a->xml : "";
  }
  // Arguments of DefineXML (no flags) or DefineXMLFlags / CreateXML.
  static Bytes DefineArgs(const std::string& xml, bool has_flags = false) {
    XmlArgs a;
    a.xml = xml;
    if (has_flags) a.flags = 0;
    return EncodeXmlArgs(a);
  }
  static Bytes ArgsFor(std::int32_t proc, const std::string& xml) {
    return DefineArgs(xml, proc != kProcDomainDefineXml);
  }
  static std::string Xml(const std::string& name, const std::string& uuid = "",
                         const std::string& devices = "") {
    std::string xml = "<domain type='test'><name>" + name + "</name>";
    if (!uuid.empty()) xml += "<uuid>" + uuid + "</uuid>";
    return xml + "<devices>" + devices + "</devices></domain>";
  }
  static Bytes RenameArgs(const RemoteDomain& d, const std::string& to) {
    XdrWriter w;
    WriteDomain(w, d);
    w.OptionalString(to);
    w.U32(0);
    return w.Take();
  }

  FakeLibvirt libvirt_;
  NotFoundReplies not_found_;
  OwnershipCache cache_;
  FakeDiskChecker disks_;
  SessionFilter filter_;
};

constexpr char kNameRule[] =
    "': names of TVD blue's domains are 'blue-' followed by 1 to 64 letters, "
    "digits, '_', '.' or '-'";
constexpr char kRedAUuid[] = "03000000-0000-0000-0000-000000000000";

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

TEST(TenantNamespaceTest, NamesAreTheTvdsPrefixAndASafeSuffix) {
  EXPECT_TRUE(InTenantNamespace("blue-a", "blue"));
  EXPECT_TRUE(InTenantNamespace("blue-A_.-9", "blue"));
  EXPECT_TRUE(InTenantNamespace("blue-" + std::string(64, 'x'), "blue"));
  EXPECT_FALSE(InTenantNamespace("blue-" + std::string(65, 'x'), "blue"));
  EXPECT_FALSE(InTenantNamespace("blue-", "blue"));
  EXPECT_FALSE(InTenantNamespace("blue", "blue"));
  EXPECT_FALSE(InTenantNamespace("blueberry-a", "blue"));
  EXPECT_FALSE(InTenantNamespace("Blue-a", "blue"));
  EXPECT_FALSE(InTenantNamespace("red-a", "blue"));
  EXPECT_FALSE(InTenantNamespace("blue-a b", "blue"));
  EXPECT_FALSE(InTenantNamespace("blue-a/b", "blue"));
  EXPECT_FALSE(InTenantNamespace("blue-a\n", "blue"));
  EXPECT_FALSE(InTenantNamespace("-a", ""));
}

// Another TVD's (or the admin's) name is outside the tenant's namespace, so
// defining over it answers exactly like defining an unused name outside the
// namespace: existence is never looked at.
TEST_F(SessionFilterTest, DefineWithForeignNameAnswersLikeUnusedName) {
  for (const char* name : {"red-a", "admin", "red-unused", "unused"}) {
    RemoteError e = ErrorOf(
        Answered(CallOf(kProcDomainDefineXml, 1, DefineArgs(Xml(name)))));
    EXPECT_EQ(e.code, kErrOperationDenied) << name;
    EXPECT_EQ(e.domain, kFromRpc) << name;
    EXPECT_EQ(e.message, "operation forbidden: domain name '" +
                             std::string(name) + kNameRule)
        << name;
    EXPECT_EQ(e.dom, std::nullopt) << name;
    EXPECT_EQ(e.str1, "operation forbidden: %s") << name;
  }
  EXPECT_TRUE(disks_.calls.empty());
}

TEST_F(SessionFilterTest, CreateXmlWithForeignNameAnswersLikeUnusedName) {
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainCreateXml, 1,
                                      DefineArgs(Xml("red-a"), true)))),
            "operation forbidden: domain name 'red-a" + std::string(kNameRule));
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainCreateXml, 2,
                                      DefineArgs(Xml("red-b"), true)))),
            "operation forbidden: domain name 'red-b" + std::string(kNameRule));
}

// TVD blue-x's names are inside blue's namespace: refused to blue by name
// alone, so blue-x's domains answer like names nobody uses.
TEST(NestedTvdTest, AnotherTvdsNamespaceInsideTheTenantsIsRefused) {
  FakeLibvirt libvirt;
  libvirt.domains = {{Dom("blue-x-vm1", 1, -1), "blue-x"}};
  OwnershipCache cache(libvirt);
  NotFoundReplies not_found;
  FakeDiskChecker disks;
  TenantScope scope{"blue", "/var/lib/tvd/blue", {"blue-data"}};
  scope.nested_tvds = {"blue-x"};
  SessionFilter filter(scope, cache, libvirt, not_found, disks,
                       "test:///default");
  for (const char* name : {"blue-x-vm1", "blue-x-vm2"}) {
    XmlArgs a;
    a.xml =
        "<domain type='test'><name>" + std::string(name) + "</name></domain>";
    Packet p;
    p.header = PacketHeader{kRemoteProgram,     1, kProcDomainDefineXml,
                            MessageType::kCall, 1, MessageStatus::kOk};
    p.payload = EncodeXmlArgs(a);
    FilterOutput out;
    filter.OnClientPacket(std::move(p), out);
    ASSERT_TRUE(out.to_upstream.empty()) << name;
    ASSERT_EQ(out.to_client.size(), 1u) << name;
    StatusOr<RemoteError> e =
        DecodeError(DecodePacket(out.to_client.front())->payload);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->message, "operation forbidden: domain name '" +
                              std::string(name) +
                              "': names starting with 'blue-x-' are reserved "
                              "on this host")
        << name;
  }
}

// The admin's own domain under a name in blue's namespace: refused without
// saying whose it is.
TEST_F(SessionFilterTest, NameInNamespaceHeldByTheAdminIsReserved) {
  libvirt_.domains.push_back({Dom("blue-admins", 5, -1), ""});
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainDefineXml, 1,
                                      DefineArgs(Xml("blue-admins"))))),
            "operation forbidden: domain name 'blue-admins' is reserved on "
            "this host; ask the datacenter admin");
  EXPECT_EQ(ErrorText(Answered(
                CallOf(kProcDomainRename, 2,
                       RenameArgs(Dom("blue-b", 2, -1), "blue-admins")))),
            "operation forbidden: domain name 'blue-admins' is reserved on "
            "this host; ask the datacenter admin");
}

// virt-install and virt-manager put a random <uuid> in a new domain; the
// relay removes it (whatever it is) so libvirtd chooses one, and a foreign
// UUID is never probed.
TEST_F(SessionFilterTest, NewDomainsUuidIsChosenByLibvirt) {
  FilterOutput out;
  filter_.OnClientPacket(
      CallOf(kProcDomainDefineXml, 1, DefineArgs(Xml("blue-new", kRedAUuid))),
      out);
  ASSERT_TRUE(out.to_client.empty());
  std::string xml = SentXml(out, false);
  EXPECT_EQ(xml.find("<uuid"), std::string::npos) << xml;
  EXPECT_EQ(xml.find(kRedAUuid), std::string::npos) << xml;
  EXPECT_NE(xml.find("<name>blue-new</name>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("owner=\"blue\""), std::string::npos) << xml;
  // Forwarded like a define with no UUID at all.
  FilterOutput plain;
  filter_.OnClientPacket(
      CallOf(kProcDomainDefineXml, 2, DefineArgs(Xml("blue-new"))), plain);
  EXPECT_EQ(SentXml(plain, false), xml);
}

// The tenant's existing domain keeps its UUID whatever the XML says, so a
// redefinition is always of that domain.
TEST_F(SessionFilterTest, RedefinitionGetsTheDomainsOwnUuid) {
  const std::string own = "02000000-0000-0000-0000-000000000000";
  for (const std::string& sent : {std::string(), own, std::string(kRedAUuid)}) {
    FilterOutput out;
    filter_.OnClientPacket(CallOf(kProcDomainDefineXmlFlags, 1,
                                  DefineArgs(Xml("blue-b", sent), true)),
                           out);
    std::string xml = SentXml(out, true);
    EXPECT_NE(xml.find("<uuid>" + own + "</uuid>"), std::string::npos) << xml;
    EXPECT_EQ(xml.find(kRedAUuid), std::string::npos) << xml;
    EXPECT_EQ(xml.find("<uuid>"), xml.rfind("<uuid>")) << xml;
    FilterOutput back;
    filter_.OnUpstreamPacket(
        ReplyOf(kProcDomainDefineXmlFlags, 1, DomArgs(Dom("blue-b", 2, -1))),
        back);
  }
}

// A name the tenant already owns is its own even outside the namespace
// (domains the admin defined for it).
TEST_F(SessionFilterTest, OwnDomainOutsideTheNamespaceCanBeRedefined) {
  libvirt_.domains.push_back({Dom("legacy", 7, -1), "blue"});
  FilterOutput out;
  filter_.OnClientPacket(
      CallOf(kProcDomainDefineXml, 1, DefineArgs(Xml("legacy"))), out);
  EXPECT_NE(SentXml(out, false)
                .find("<uuid>07000000-0000-0000-0000-000000000000</uuid>"),
            std::string::npos);
}

TEST_F(SessionFilterTest, DomainAdmittedByTheProxyCannotBeRedefined) {
  libvirt_.domains.push_back({Dom("blue-measured", 6, -1), "blue", "",
                              "<t:measure type='config' sha256='00'/>"});
  libvirt_.domains.push_back({Dom("blue-plugged", 8, -1), "blue", "",
                              "<t:vnet target='p0' network='blue-data'/>"});
  for (const char* name : {"blue-measured", "blue-plugged"}) {
    for (std::int32_t proc : {kProcDomainDefineXml, kProcDomainDefineXmlFlags,
                              kProcDomainCreateXml}) {
      EXPECT_EQ(ErrorText(Answered(CallOf(proc, 1, ArgsFor(proc, Xml(name))))),
                "operation forbidden: domain '" + std::string(name) +
                    "' was admitted by the TVD proxy with a measured "
                    "configuration; change it with tvdctl attach on the host")
          << name << " " << proc;
    }
  }
}

TEST_F(SessionFilterTest, DomainAdmittedByTheProxyCannotBeRenamed) {
  libvirt_.domains.push_back({Dom("blue-measured", 6, -1), "blue", "",
                              "<t:measure type='config' sha256='00'/>"});
  EXPECT_EQ(ErrorText(Answered(
                CallOf(kProcDomainRename, 1,
                       RenameArgs(Dom("blue-measured", 6, -1), "blue-x")))),
            "operation forbidden: domain 'blue-measured' was admitted by the "
            "TVD proxy with a measured configuration; change it with tvdctl "
            "attach on the host");
}

// Renaming onto another TVD's name answers exactly like renaming onto an
// unused name outside the namespace.
TEST_F(SessionFilterTest, RenameOntoForeignNameAnswersLikeMissingName) {
  for (const char* name : {"red-a", "red-missing", "admin", "missing"}) {
    EXPECT_EQ(
        ErrorText(Answered(CallOf(kProcDomainRename, 1,
                                  RenameArgs(Dom("blue-b", 2, -1), name)))),
        "operation forbidden: domain name '" + std::string(name) + kNameRule)
        << name;
  }
  // A new name in the namespace, or one of the tenant's own (libvirtd
  // answers that conflict itself): forwarded.
  for (const char* name : {"blue-c", "blue-a"}) {
    FilterOutput out;
    filter_.OnClientPacket(
        CallOf(kProcDomainRename, 2, RenameArgs(Dom("blue-b", 2, -1), name)),
        out);
    EXPECT_EQ(out.to_upstream.size(), 1u) << name;
    EXPECT_TRUE(out.to_client.empty()) << name;
    FilterOutput back;
    filter_.OnUpstreamPacket(ReplyOf(kProcDomainRename, 2, {}), back);
  }
}

TEST_F(SessionFilterTest, AutostartOnIsRefusedOffIsForwarded) {
  EXPECT_EQ(
      ErrorText(Answered(CallOf(kProcDomainSetAutostart, 1,
                                DomArgs(Dom("blue-a", 1, 1), {0, 0, 0, 1})))),
      "operation forbidden: autostart: libvirtd would start the domain at its "
      "own start, past the TVD relay's checks");
  FilterOutput out;
  filter_.OnClientPacket(CallOf(kProcDomainSetAutostart, 2,
                                DomArgs(Dom("blue-a", 1, 1), {0, 0, 0, 0})),
                         out);
  EXPECT_EQ(out.to_upstream.size(), 1u);
  EXPECT_TRUE(out.to_client.empty());
  // Someone else's domain: not found, whatever the value.
  EXPECT_EQ(
      ErrorText(Answered(CallOf(kProcDomainSetAutostart, 3,
                                DomArgs(Dom("red-a", 3, 2), {0, 0, 0, 1})))),
      "Domain not found: no domain with matching uuid "
      "'03000000-0000-0000-0000-000000000000' (red-a)");
  FilterOutput bad;
  filter_.OnClientPacket(
      CallOf(kProcDomainSetAutostart, 4, DomArgs(Dom("blue-a", 1, 1))), bad);
  EXPECT_EQ(bad.close.code(), ErrorCode::kProtocol);
}

constexpr char kTwoDisks[] =
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/tvd/blue/a.qcow2'/><target dev='vda'/></disk>"
    "<disk device='disk'><source file='/var/lib/tvd/blue/b.img'/>"
    "<target dev='vdb'/></disk>"
    "<disk type='file' device='cdrom'><target dev='sda'/></disk>";

// The same two images as a tenant may define them (the allowlist pins a
// disk to qcow2; a CD-ROM becomes raw and read-only).
constexpr char kTwoDisksDefined[] =
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/tvd/blue/a.qcow2'/><target dev='vda'/></disk>"
    "<disk type='file' device='cdrom'>"
    "<source file='/var/lib/tvd/blue/b.img'/><target dev='sdb'/></disk>";

std::vector<FakeDiskChecker::Call> TwoDiskCalls() {
  return {{"/var/lib/tvd/blue/a.qcow2", "qcow2", "/var/lib/tvd/blue"},
          {"/var/lib/tvd/blue/b.img", "raw", "/var/lib/tvd/blue"}};
}

TEST_F(SessionFilterTest, StartChecksEveryDiskImage) {
  libvirt_.domains.push_back({Dom("blue-disks", 9, -1), "blue", kTwoDisks});
  for (std::int32_t proc : {kProcDomainCreate, kProcDomainCreateWithFlags}) {
    disks_.calls.clear();
    Bytes args = DomArgs(Dom("blue-disks", 9, -1));
    if (proc == kProcDomainCreateWithFlags)
      args = DomArgs(Dom("blue-disks", 9, -1), {0, 0, 0, 0});
    FilterOutput out;
    filter_.OnClientPacket(CallOf(proc, 1, args), out);
    EXPECT_EQ(out.to_upstream.size(), 1u) << proc;
    EXPECT_EQ(disks_.calls, TwoDiskCalls()) << proc;
    FilterOutput back;
    filter_.OnUpstreamPacket(ReplyOf(proc, 1, {}), back);
  }
}

TEST_F(SessionFilterTest, StartWithARefusedImageIsDenied) {
  libvirt_.domains.push_back({Dom("blue-disks", 9, -1), "blue", kTwoDisks});
  disks_.refusal = PermissionDenied(
      "/var/lib/tvd/blue/a.qcow2: backing file '/etc/shadow' is outside "
      "/var/lib/tvd/blue");
  for (std::int32_t proc : {kProcDomainCreate, kProcDomainCreateWithFlags}) {
    disks_.calls.clear();
    EXPECT_EQ(ErrorText(Answered(CallOf(
                  proc, 1, DomArgs(Dom("blue-disks", 9, -1), {0, 0, 0, 0})))),
              "operation forbidden: /var/lib/tvd/blue/a.qcow2: backing file "
              "'/etc/shadow' is outside /var/lib/tvd/blue")
        << proc;
    EXPECT_EQ(disks_.calls.size(), 1u) << proc;
  }
  EXPECT_EQ(filter_.pending_calls(), 0u);
}

TEST_F(SessionFilterTest, StartRefusesDisksTheRelayCannotCheck) {
  libvirt_.domains.push_back(
      {Dom("blue-block", 10, -1), "blue",
       "<disk type='block'><source dev='/dev/sda'/><target dev='vda'/>"
       "</disk>"});
  libvirt_.domains.push_back(
      {Dom("blue-vmdk", 11, -1), "blue",
       "<disk type='file'><driver type='vmdk'/><source "
       "file='/var/lib/tvd/blue/x.vmdk'/><target dev='vda'/></disk>"});
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainCreate, 1,
                                      DomArgs(Dom("blue-block", 10, -1))))),
            "operation forbidden: <disk type='block'>: only file disks can be "
            "started through the TVD relay");
  EXPECT_EQ(ErrorText(Answered(CallOf(kProcDomainCreate, 2,
                                      DomArgs(Dom("blue-vmdk", 11, -1))))),
            "operation forbidden: disk image '/var/lib/tvd/blue/x.vmdk': "
            "format 'vmdk' is not allowed (raw or qcow2)");
  EXPECT_TRUE(disks_.calls.empty());
}

TEST_F(SessionFilterTest, DefineAndCreateXmlCheckEveryDiskImage) {
  for (std::int32_t proc : {kProcDomainDefineXml, kProcDomainDefineXmlFlags,
                            kProcDomainCreateXml}) {
    disks_.calls.clear();
    disks_.refusal = Status::Ok();
    FilterOutput out;
    filter_.OnClientPacket(
        CallOf(proc, 1, ArgsFor(proc, Xml("blue-new", "", kTwoDisksDefined))),
        out);
    EXPECT_EQ(out.to_upstream.size(), 1u) << proc;
    EXPECT_EQ(disks_.calls, TwoDiskCalls()) << proc;
    FilterOutput back;
    filter_.OnUpstreamPacket(ReplyOf(proc, 1, DomArgs(Dom("blue-new", 12, -1))),
                             back);

    disks_.calls.clear();
    disks_.refusal =
        InvalidArgument("/var/lib/tvd/blue/a.qcow2: not a qcow2 header");
    EXPECT_EQ(
        ErrorText(Answered(CallOf(
            proc, 2, ArgsFor(proc, Xml("blue-other", "", kTwoDisksDefined))))),
        "operation forbidden: /var/lib/tvd/blue/a.qcow2: not a qcow2 "
        "header")
        << proc;
    EXPECT_EQ(disks_.calls.size(), 1u) << proc;
  }
}

TEST_F(SessionFilterTest, DomainCapabilitiesOnlyForTheHostsEmulator) {
  auto args = [](std::optional<std::string> emulator) {
    XdrWriter w;
    w.OptionalString(emulator);
    w.OptionalString(std::string("x86_64"));
    w.OptionalString(std::nullopt);
    w.OptionalString(std::string("kvm"));
    w.U32(0);
    return w.Take();
  };
  for (const std::optional<std::string>& ok :
       {std::optional<std::string>(),
        std::optional<std::string>("/usr/bin/qemu-system-x86_64")}) {
    FilterOutput out;
    filter_.OnClientPacket(
        CallOf(kProcConnectGetDomainCapabilities, 1, args(ok)), out);
    EXPECT_EQ(out.to_upstream.size(), 1u);
    FilterOutput back;
    filter_.OnUpstreamPacket(
        ReplyOf(kProcConnectGetDomainCapabilities, 1, EncodeStringRet("<c/>")),
        back);
  }
  EXPECT_EQ(ErrorText(Answered(
                CallOf(kProcConnectGetDomainCapabilities, 2, args("/bin/sh")))),
            "operation forbidden: emulator '/bin/sh': the host's emulator is "
            "chosen by the TVD, not the tenant");
  FilterOutput bad;
  filter_.OnClientPacket(
      CallOf(kProcConnectGetDomainCapabilities, 3, {0, 0, 0, 0}), bad);
  EXPECT_EQ(bad.close.code(), ErrorCode::kProtocol);
  EXPECT_TRUE(bad.to_upstream.empty());
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

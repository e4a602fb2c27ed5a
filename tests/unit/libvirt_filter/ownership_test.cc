// Tenant subject -> TVD mapping and the ownership cache.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "tvd/libvirt_filter/domain_directory.h"
#include "tvd/libvirt_filter/ownership_source.h"

namespace tvd::libvirt_filter {
namespace {

TEST(SubjectTest, OrderAndSpacing) {
  EXPECT_TRUE(
      SameSubject("CN=blue,OU=tenant,O=vdc", "O=vdc, OU=tenant, CN=blue"));
  EXPECT_TRUE(SameSubject("cn = blue, o=vdc", "CN=blue,O=vdc"));
  EXPECT_FALSE(SameSubject("CN=blue,O=vdc", "CN=blue,O=vdc2"));
  EXPECT_FALSE(SameSubject("CN=blue,O=vdc", "CN=blue"));
  EXPECT_FALSE(SameSubject("CN=blue,O=vdc,OU=x", "O=vdc,CN=blue,OU=x"));
  EXPECT_FALSE(SameSubject("", ""));
  // An escaped comma is part of the value.
  EXPECT_FALSE(SameSubject("CN=a\\,O=b", "CN=a,O=b"));
}

tvd::policy::TvdPolicy Policy(const std::string& name,
                              const std::string& owner) {
  tvd::policy::TvdPolicy p;
  p.name = name;
  p.owner = owner;
  p.networks.push_back(
      {name + "-data", tvd::policy::NetworkKind::kData, 1, std::nullopt});
  return p;
}

TEST(StaticOwnershipTest, MapsSubjectToScope) {
  StaticOwnership o(
      {Policy("blue", "CN=blue,O=vdc"), Policy("red", "CN=red,O=vdc")},
      "/srv/tvd/");
  StatusOr<TenantScope> s = o.ScopeForSubject("O=vdc,CN=red");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->tvd, "red");
  EXPECT_EQ(s->storage_path, "/srv/tvd/red");
  EXPECT_EQ(s->networks, std::vector<std::string>{"red-data"});
  EXPECT_EQ(s->emulator, kDefaultEmulator);
  EXPECT_EQ(s->graphics, GraphicsPolicy::kNone);
  EXPECT_EQ(o.ScopeForSubject("CN=green,O=vdc").status(),
            NotFound("no TVD policy names 'CN=green,O=vdc' as its owner"));
}

TEST(StaticOwnershipTest, TheHostsEmulatorAndGraphicsReachEveryScope) {
  StaticOwnership o({Policy("blue", "CN=blue,O=vdc")}, "/srv/tvd",
                    HostConfinement{"/opt/qemu/bin/qemu-system-x86_64",
                                    GraphicsPolicy::kVnc});
  StatusOr<TenantScope> s = o.ScopeForSubject("CN=blue,O=vdc");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->emulator, "/opt/qemu/bin/qemu-system-x86_64");
  EXPECT_EQ(s->graphics, GraphicsPolicy::kVnc);
}

// blue-x's domain names ("blue-x-...") are also in blue's namespace.
TEST(StaticOwnershipTest, ScopeListsTvdsNestedInItsNamespace) {
  StaticOwnership o(
      {Policy("blue", "CN=blue,O=vdc"), Policy("blue-x", "CN=bx,O=vdc"),
       Policy("bluey", "CN=by,O=vdc"), Policy("red", "CN=red,O=vdc")},
      "/srv/tvd");
  EXPECT_EQ(o.ScopeForSubject("CN=blue,O=vdc")->nested_tvds,
            std::vector<std::string>{"blue-x"});
  EXPECT_TRUE(o.ScopeForSubject("CN=bx,O=vdc")->nested_tvds.empty());
}

TEST(StaticOwnershipTest, TwoTvdsForOneTenantIsRefused) {
  StaticOwnership o({Policy("blue", "CN=t,O=vdc"), Policy("red", "CN=t,O=vdc")},
                    "/srv/tvd");
  EXPECT_EQ(o.ScopeForSubject("CN=t,O=vdc").status(),
            FailedPrecondition("tenant 'CN=t,O=vdc' owns more than one TVD "
                               "(blue, red)"));
}

TEST(LoadPolicyDirectoryTest, LoadsTheTemplates) {
  // policy-templates has TVD policies and VM configurations; only a
  // directory of TVD policies is valid, so a copy is used.
  std::string dir = ::testing::TempDir() + "/policies";
  std::filesystem::create_directories(dir);
  for (const char* f : {"blue.xml", "red.xml"}) {
    std::filesystem::copy_file(
        std::string(TVD_SOURCE_DIR) + "/policy-templates/" + f, dir + "/" + f,
        std::filesystem::copy_options::overwrite_existing);
  }
  auto o = LoadPolicyDirectory(dir, "/var/lib/tvd");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  StatusOr<TenantScope> s =
      (*o)->ScopeForSubject("O=Blue Tenant Ltd,CN=blue-tenant");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->tvd, "blue");
  EXPECT_EQ(s->networks, (std::vector<std::string>{"blue-data", "blue-mgmt"}));
  // A VM configuration in the directory is not a TVD policy: refused.
  std::filesystem::copy_file(
      std::string(TVD_SOURCE_DIR) + "/policy-templates/vm-client.xml",
      dir + "/vm.xml", std::filesystem::copy_options::overwrite_existing);
  EXPECT_FALSE(LoadPolicyDirectory(dir, "/var/lib/tvd").ok());
  std::filesystem::remove_all(dir);
}

class FakeDirectory : public DomainDirectory {
 public:
  std::map<Uuid, std::string> xml;
  int fetches = 0;
  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override {
    ++fetches;
    auto it = xml.find(dom.uuid);
    if (it == xml.end()) return NotFound("Domain not found");
    return it->second;
  }
  StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string&) override {
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::optional<RemoteDomain>> LookupByUuid(const Uuid&) override {
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t) override {
    return std::optional<RemoteDomain>();
  }
  StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t) override {
    return std::vector<RemoteDomain>();
  }
};

std::string OwnedXml(const std::string& owner) {
  return "<domain type='test'><name>x</name><metadata><tvd:tvd "
         "xmlns:tvd='urn:tvd:vm:1' owner='" +
         owner + "'/></metadata></domain>";
}

TEST(OwnershipCacheTest, CachesUntilInvalidated) {
  FakeDirectory d;
  RemoteDomain dom{"x", Uuid{7}, -1};
  d.xml[dom.uuid] = OwnedXml("blue");
  OwnershipCache cache(d);
  EXPECT_TRUE(cache.Owns("blue", dom));
  EXPECT_TRUE(cache.Owns("blue", dom));
  EXPECT_FALSE(cache.Owns("red", dom));
  EXPECT_EQ(d.fetches, 1);
  d.xml[dom.uuid] = OwnedXml("red");
  cache.Invalidate(dom.uuid);
  EXPECT_TRUE(cache.Owns("red", dom));
  EXPECT_EQ(d.fetches, 2);
}

TEST(OwnershipCacheTest, ForgottenDomainKeepsItsLastOwnerForItsLastEvents) {
  FakeDirectory d;
  RemoteDomain dom{"x", Uuid{7}, -1};
  d.xml[dom.uuid] = OwnedXml("blue");
  OwnershipCache cache(d);
  EXPECT_TRUE(cache.Owns("blue", dom));
  d.xml.clear();  // undefined
  cache.Invalidate(dom.uuid);
  EXPECT_TRUE(cache.Owns("blue", dom));
  EXPECT_FALSE(cache.Owns("red", dom));
  RemoteDomain never{"y", Uuid{8}, -1};
  EXPECT_EQ(cache.OwnerOf(never).status(), NotFound("Domain not found"));
}

TEST(OwnershipCacheTest, NoTenantOwnsUnmarkedOrUnreadableDomains) {
  FakeDirectory d;
  RemoteDomain plain{"p", Uuid{1}, -1};
  RemoteDomain broken{"b", Uuid{2}, -1};
  d.xml[plain.uuid] = "<domain><name>p</name></domain>";
  d.xml[broken.uuid] = "<domain";
  OwnershipCache cache(d);
  EXPECT_FALSE(cache.Owns("blue", plain));
  EXPECT_FALSE(cache.Owns("", plain));
  EXPECT_FALSE(cache.Owns("blue", broken));
}

}  // namespace
}  // namespace tvd::libvirt_filter

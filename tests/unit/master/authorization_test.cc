#include "tvd/master/authorization.h"

#include <gtest/gtest.h>

namespace tvd::master {
namespace {

pki::Identity HostIdentity(const std::string& n) {
  return {pki::Role::kHost, n};
}

TEST(AuthorizationTest, SubjectMatching) {
  EXPECT_TRUE(
      SubjectNamesHost("CN=node1,O=Example VDC", HostIdentity("node1")));
  EXPECT_TRUE(SubjectNamesHost("O=Example VDC, OU=host, CN=node1",
                               HostIdentity("node1")));
  EXPECT_FALSE(
      SubjectNamesHost("CN=node10,O=Example VDC", HostIdentity("node1")));
  EXPECT_FALSE(SubjectNamesHost("CN=node1,OU=admin", HostIdentity("node1")));
  EXPECT_FALSE(SubjectNamesHost("CN=node1,CN=node2", HostIdentity("node1")));
  EXPECT_FALSE(SubjectNamesHost("O=Example VDC", HostIdentity("node1")));
  EXPECT_FALSE(SubjectNamesHost("CN=node1", {pki::Role::kAdmin, "node1"}));
}

TEST(AuthorizationTest, OwnerSubjectNamesTheTenant) {
  const pki::Identity blue{pki::Role::kTenant, "blue-tenant"};
  EXPECT_TRUE(SubjectNamesTenant("CN=blue-tenant,O=Blue Tenant Ltd", blue));
  EXPECT_TRUE(
      SubjectNamesTenant("O=Example VDC, OU=tenant, CN=blue-tenant", blue));
  EXPECT_FALSE(SubjectNamesTenant("CN=red-tenant,OU=tenant", blue));
  EXPECT_FALSE(SubjectNamesTenant("CN=blue-tenant,OU=host", blue));
  EXPECT_FALSE(SubjectNamesTenant("CN=blue-tenant,CN=x", blue));
  // The same name with another role is another identity.
  EXPECT_FALSE(SubjectNamesTenant("CN=blue-tenant",
                                  {pki::Role::kHost, "blue-tenant"}));
  EXPECT_FALSE(SubjectNamesHost("CN=blue-tenant", blue));
}

TEST(AuthorizationTest, Decisions) {
  policy::TvdPolicy p;
  p.name = "blue";
  p.authorized_hosts = {"CN=node1,O=VDC", "CN=node2,O=VDC"};
  EXPECT_TRUE(AuthorizeHost(p, HostIdentity("node2")).ok());
  EXPECT_EQ(AuthorizeHost(p, HostIdentity("node3")),
            PermissionDenied("host node3 is not authorized for TVD blue"));
  EXPECT_EQ(AuthorizeHost(p, {pki::Role::kTenant, "node1"}),
            PermissionDenied("tenant:node1 is not a host"));
  p.authorized_hosts.clear();  // default deny
  EXPECT_FALSE(AuthorizeHost(p, HostIdentity("node1")).ok());
}

TEST(AuthorizationTest, AuthorizedHostNamesAgreesWithAuthorizeHost) {
  policy::TvdPolicy p;
  p.name = "blue";
  p.authorized_hosts = {"CN=node1,O=VDC",
                        "O=VDC, OU=host, CN= node2 ",
                        "CN=node3,OU=admin",
                        "CN=node4,CN=node5",
                        "O=VDC",
                        "CN=node6,garbage",
                        "garbage,CN=node7",
                        "CN=,O=VDC",
                        "CN=node8 , O = VDC"};
  std::set<std::string> names = AuthorizedHostNames(p);
  EXPECT_EQ(names, (std::set<std::string>{"", "node1", "node2", "node8"}));
  for (const char* h : {"node1", "node2", "node3", "node4", "node5", "node6",
                        "node7", "node8", ""}) {
    EXPECT_EQ(names.count(h) > 0, AuthorizeHost(p, HostIdentity(h)).ok()) << h;
  }
}

TEST(AuthorizationTest, RequirementsMapping) {
  policy::TvdPolicy p;
  p.host_requirements.allow_no_tpm = false;
  p.host_requirements.attestation_interval_seconds = 7;
  policy::PcrRequirement pcr;
  pcr.index = 16;
  pcr.known_good = {Sha256Digest{}, Sha256("x")};
  p.host_requirements.pcrs.push_back(pcr);
  auto req = RequirementsFor(p);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->interval, std::chrono::seconds(7));
  ASSERT_EQ(req->pcrs.size(), 1u);
  EXPECT_EQ(req->pcrs[0].index, 16u);
  EXPECT_EQ(req->pcrs[0].allowed.size(), 2u);
  EXPECT_FALSE(req->ima.has_value());
  p.host_requirements.ima_allowlist =
      policy::ImaAllowlistRef{"/nonexistent/ima.txt", Sha256Digest{}};
  EXPECT_EQ(RequirementsFor(p).status(),
            IoError("IMA allowlist /nonexistent/ima.txt cannot be read"));
}

TEST(AuthorizationTest, RequirementsCarryTheMeasuredBootPolicy) {
  policy::TvdPolicy p;
  p.host_requirements.attestation_interval_seconds = 60;
  policy::MeasuredBootRequirement mb;
  mb.require_secure_boot = true;
  mb.firmware = {Sha256("fw")};
  mb.shim = {Sha256("shim")};
  mb.bootloader = {Sha256("grub")};
  mb.kernel = {Sha256("vmlinuz")};
  mb.pk = {Sha256("pk")};
  mb.kek = {Sha256("kek")};
  mb.db = {Sha256("db")};
  mb.dbx = {Sha256("dbx")};
  mb.events = {{1, 0x8000000B, Sha256("smbios")}};
  p.host_requirements.measured_boot = mb;
  auto req = RequirementsFor(p);
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE(req->measured_boot);
  const attest::MeasuredBootPolicy& out = *req->measured_boot;
  EXPECT_TRUE(out.require_secure_boot);
  EXPECT_EQ(out.firmware, mb.firmware);
  EXPECT_EQ(out.shim, mb.shim);
  EXPECT_EQ(out.bootloader, mb.bootloader);
  EXPECT_EQ(out.kernel, mb.kernel);
  EXPECT_EQ(out.pk, mb.pk);
  EXPECT_EQ(out.kek, mb.kek);
  EXPECT_EQ(out.db, mb.db);
  EXPECT_EQ(out.dbx, mb.dbx);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0], (attest::MeasuredBootPolicy::Event{
                               1, 0x8000000B, Sha256("smbios")}));
  EXPECT_EQ(attest::PcrSelectionFor(*req),
            (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace tvd::master

#include "tvd/proxy/admission_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/tvd_proxy.h"
#include "tvd/testing/fake_clock.h"
#include "tvd/testing/proxy_fakes.h"
#include "tvd/testing/proxy_test_util.h"

namespace tvd::proxy {
namespace {

using testing::FakeHypervisor;
using testing::FakeMaster;
using testing::FakeNetwork;
using testing::MakePolicy;
using testing::MakeVm;
using testing::TempDir;
using testing::TestVm;
using testing::WriteFile;

constexpr char kUuid[] = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const std::string kDigest(64, 'a');

AdmissionRecord SampleRecord() {
  AdmissionRecord r;
  r.tvd = "blue";
  r.vms["web"] = {"web",
                  kUuid,
                  kDigest,
                  {{"tvd0123456789ab", "blue-data", "52:54:00:00:00:01"},
                   {"tvd0123456789ac", "blue-mgmt", "52:54:00:00:00:02"}}};
  r.vms["db"] = {"db", "00000000-0000-4000-8000-000000000001", kDigest, {}};
  return r;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class AdmissionStoreTest : public ::testing::Test {
 protected:
  std::string StateDir() const { return dir_.path() + "/state"; }
  std::string RecordPath() const { return StateDir() + "/blue/admitted.json"; }

  TempDir dir_;
  FileAdmissionStore store_{dir_.path() + "/state", "blue", ::geteuid()};
};

TEST_F(AdmissionStoreTest, NoRecordLoadsEmpty) {
  auto r = store_.Load();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tvd, "blue");
  EXPECT_TRUE(r->vms.empty());
}

TEST_F(AdmissionStoreTest, SaveThenLoadGivesTheSameRecordWithPrivateModes) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  EXPECT_EQ(store_.path(), RecordPath());
  EXPECT_EQ(ModeOf(StateDir()), 0700u);
  EXPECT_EQ(ModeOf(StateDir() + "/blue"), 0700u);
  EXPECT_EQ(ModeOf(RecordPath()), 0600u);
  auto r = store_.Load();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, SampleRecord());
}

TEST_F(AdmissionStoreTest, SaveReplacesTheFileWholeAndLeavesNoTemporary) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  struct stat before {};
  ASSERT_EQ(::stat(RecordPath().c_str(), &before), 0);
  AdmissionRecord smaller = SampleRecord();
  smaller.vms.erase("web");
  ASSERT_TRUE(store_.Save(smaller).ok());
  struct stat after {};
  ASSERT_EQ(::stat(RecordPath().c_str(), &after), 0);
  // A new inode renamed over the old one, never the old file rewritten in
  // place (a crash mid-write cannot leave half a record).
  EXPECT_NE(before.st_ino, after.st_ino);
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(StateDir() + "/blue")) {
    files.push_back(e.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"admitted.json"});
  EXPECT_EQ(*store_.Load(), smaller);
}

TEST_F(AdmissionStoreTest, RemoveDeletesTheFileAndTheTvdDirectory) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  ASSERT_TRUE(store_.Remove().ok());
  EXPECT_FALSE(std::filesystem::exists(StateDir() + "/blue"));
  EXPECT_TRUE(store_.Remove().ok());  // nothing there: still OK
  EXPECT_TRUE(store_.Load()->vms.empty());
}

TEST_F(AdmissionStoreTest, FileOfAnotherOwnerIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  FileAdmissionStore root_store(StateDir(), "blue");  // owner root
  ASSERT_TRUE(root_store.Save(SampleRecord()).ok());
  ASSERT_EQ(::chown(RecordPath().c_str(), 65534, 65534), 0);
  EXPECT_EQ(root_store.Load().status(),
            PermissionDenied("admission record " + RecordPath() +
                             " is owned by uid 65534, not 0 (refusing to "
                             "read it)"));
}

TEST_F(AdmissionStoreTest, DirectoryOfAnotherOwnerIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  FileAdmissionStore root_store(StateDir(), "blue");
  ASSERT_TRUE(root_store.Save(SampleRecord()).ok());
  ASSERT_EQ(::chown((StateDir() + "/blue").c_str(), 65534, 65534), 0);
  Status expected = PermissionDenied(
      "admission state directory " + StateDir() +
      "/blue is owned by uid 65534, not 0 (refusing to use it)");
  EXPECT_EQ(root_store.Load().status(), expected);
  EXPECT_EQ(root_store.Save(SampleRecord()), expected);
}

TEST_F(AdmissionStoreTest, GroupOrWorldWritableFileIsRefused) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  for (mode_t mode : {0620, 0602}) {
    ASSERT_EQ(::chmod(RecordPath().c_str(), mode), 0);
    EXPECT_EQ(store_.Load().status(),
              PermissionDenied("admission record " + RecordPath() +
                               " is writable by group or others (refusing "
                               "to read it)"));
  }
}

TEST_F(AdmissionStoreTest, WorldWritableDirectoryIsRefused) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  ASSERT_EQ(::chmod(StateDir().c_str(), 0777), 0);
  EXPECT_EQ(store_.Load().status(),
            PermissionDenied("admission state directory " + StateDir() +
                             " is writable by group or others (refusing to "
                             "use it; make it mode 0700)"));
}

TEST_F(AdmissionStoreTest, SymlinkIsRefused) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  const std::string elsewhere = dir_.path() + "/elsewhere.json";
  std::filesystem::rename(RecordPath(), elsewhere);
  std::filesystem::create_symlink(elsewhere, RecordPath());
  EXPECT_EQ(store_.Load().status(),
            PermissionDenied("admission record " + RecordPath() +
                             " is a symbolic link (refusing to read it)"));
}

TEST_F(AdmissionStoreTest, CorruptFileIsAClearError) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  WriteFile(RecordPath(), "{\"version\":1,\"tvd\":\"blue\",\"vms\":[");
  EXPECT_EQ(store_.Load().status(),
            InvalidArgument(RecordPath() + ": not valid JSON"));
}

TEST_F(AdmissionStoreTest, RecordOfAnotherTvdIsRefused) {
  ASSERT_TRUE(store_.Save(SampleRecord()).ok());
  WriteFile(RecordPath(), "{\"version\":1,\"tvd\":\"red\",\"vms\":[]}");
  EXPECT_EQ(store_.Load().status(),
            InvalidArgument(RecordPath() +
                            ": $.tvd: the record of TVD 'red' where TVD "
                            "'blue' was expected"));
}

// The parser, on text.
struct BadRecord {
  const char* text;
  const char* error;
};

class ParseAdmissionRecordTest : public ::testing::TestWithParam<BadRecord> {};

TEST_P(ParseAdmissionRecordTest, RefusesWithTheExactReason) {
  EXPECT_EQ(ParseAdmissionRecord(GetParam().text, "f").status(),
            InvalidArgument(GetParam().error));
}

#define VM_OK                                                           \
  "\"name\":\"web\",\"uuid\":\"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"," \
  "\"config_sha256\":\""                                                \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
#define TOP "{\"version\":1,\"tvd\":\"blue\",\"vms\":"

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseAdmissionRecordTest,
    ::testing::Values(
        BadRecord{"", "f: not valid JSON"},
        BadRecord{"[]", "f: $: must be an object"},
        BadRecord{"{\"version\":1,\"tvd\":\"blue\"}", "f: $.vms: missing"},
        BadRecord{TOP "[],\"extra\":1}", "f: $.extra: unknown key"},
        BadRecord{TOP "[],\"tvd\":\"red\"}", "f: key 'tvd' appears twice"},
        BadRecord{"{\"version\":2,\"tvd\":\"blue\",\"vms\":[]}",
                  "f: $.version: must be 1"},
        BadRecord{"{\"version\":1,\"tvd\":\"../x\",\"vms\":[]}",
                  "f: $.tvd: must be a TVD name"},
        BadRecord{TOP "{}}", "f: $.vms: must be an array"},
        BadRecord{TOP "[{" VM_OK "}]}", "f: $.vms[0].ports: missing"},
        BadRecord{TOP "[{" VM_OK ",\"ports\":[{\"port\":\"eth0\","
                      "\"network\":\"blue-data\",\"mac\":\"52:54:00:00:00:0G\"}"
                      "]}]}",
                  "f: $.vms[0].ports[0].mac: must be a lower-case MAC "
                  "address"},
        BadRecord{TOP "[{" VM_OK ",\"ports\":[{\"port\":\"a-name-too-long0\","
                      "\"network\":\"blue-data\",\"mac\":\"52:54:00:00:00:01\"}"
                      "]}]}",
                  "f: $.vms[0].ports[0].port: must be an interface name"},
        BadRecord{TOP
                  "[{" VM_OK ",\"ports\":[{\"port\":\"t1\","
                  "\"network\":\"blue-data\",\"mac\":\"52:54:00:00:00:01\"},"
                  "{\"port\":\"t1\",\"network\":\"blue-data\","
                  "\"mac\":\"52:54:00:00:00:02\"}]}]}",
                  "f: $.vms[0].ports[1].port: port 't1' is recorded twice"},
        BadRecord{TOP "[{" VM_OK ",\"ports\":[]},{" VM_OK ",\"ports\":[]}]}",
                  "f: $.vms[1].name: VM 'web' is recorded twice"},
        BadRecord{TOP "[{\"name\":\"web\",\"uuid\":\"uuid-1\","
                      "\"config_sha256\":\"aa\",\"ports\":[]}]}",
                  "f: $.vms[0].uuid: must be a UUID"},
        BadRecord{TOP "[{\"name\":\"web\",\"uuid\":"
                      "\"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\","
                      "\"config_sha256\":\"AA\",\"ports\":[]}]}",
                  "f: $.vms[0].config_sha256: must be 64 lower-case hex "
                  "digits"},
        BadRecord{TOP "[{\"name\":7," VM_OK ",\"ports\":[]}]}",
                  "f: key 'name' appears twice"}));

// The proxy with the real file store: a corrupt record stops the join,
// and no port is plugged.
TEST(AdmissionStoreProxyTest, CorruptRecordStopsTheJoinAndPlugsNothing) {
  TempDir dir;
  TestVm web = MakeVm(dir.path(), "web", "blue", "blue-data", "nic0");
  FakeMaster master(MakePolicy("blue", 1, {web}));
  FakeHypervisor hypervisor;
  FakeNetwork network;
  MeasurementCache cache;
  FileAdmissionStore store(dir.path() + "/state", "blue", ::geteuid());
  ProxyConfig config{
      .tvd = "blue", .local_host = "host-a", .local_address = "198.18.0.1"};
  {
    TvdProxy proxy(config, master, hypervisor, network, cache, store,
                   std::make_shared<tvd::testing::FakeClock>());
    ASSERT_TRUE(proxy.Join().ok());
    ASSERT_TRUE(proxy.Attach(web.config_path).ok());
    ASSERT_TRUE(network.ports.contains(TapName("blue", 1, "web", 0)));
  }  // the process dies
  network.ports.clear();
  WriteFile(store.path(), "{\"version\":1,\"tvd\":\"blue\",\"vms\":[{}]}");
  TvdProxy restarted(config, master, hypervisor, network, cache, store,
                     std::make_shared<tvd::testing::FakeClock>());
  EXPECT_EQ(restarted.Join(),
            InvalidArgument("reading the admission record of TVD 'blue': " +
                            store.path() + ": $.vms[0].name: missing"));
  EXPECT_TRUE(network.ports.empty());
  EXPECT_FALSE(restarted.joined());
}

}  // namespace
}  // namespace tvd::proxy

// The relay's quota enforcement: reading usage from the admin view, disk
// sizes, reservations of calls in flight, and the SessionFilter hooks.
#include "tvd/libvirt_filter/quota_guard.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "fake_directory.h"
#include "tvd/libvirt_filter/disk_image_checker.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/libvirt_filter/session_filter.h"

namespace tvd::libvirt_filter {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

RemoteDomain Dom(const std::string& name, std::uint8_t tag, std::int32_t id) {
  Uuid u{};
  u[0] = tag;
  return RemoteDomain{name, u, id};
}

// Domain XML as libvirtd returns it, owned by `owner`.
std::string Xml(const std::string& owner, const std::string& body) {
  return "<domain type='test'><name>x</name>" + body +
         "<metadata><t:tvd xmlns:t='urn:tvd:vm:1' owner='" + owner +
         "'/></metadata></domain>";
}

struct FakeDirectoryEntry {
  RemoteDomain dom;
  std::string xml;
};

class FakeDirectory : public testing::FakeDirectoryLookups<FakeDirectoryEntry> {
 public:
  using Entry = FakeDirectoryEntry;
  bool list_fails = false;
  int lists = 0;

  StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) override {
    for (const Entry& e : domains) {
      if (e.dom.uuid == dom.uuid) return e.xml;
    }
    return NotFound("Domain not found");
  }
  StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t) override {
    ++lists;
    if (list_fails) return Unavailable("libvirtd went away");
    std::vector<RemoteDomain> out;
    for (const Entry& e : domains) out.push_back(e.dom);
    return out;
  }
};

class FakeDiskSizes : public DiskSizes {
 public:
  std::map<std::string, std::uint64_t> sizes;
  StatusOr<std::uint64_t> SizeOf(const std::string& path) override {
    auto it = sizes.find(path);
    if (it == sizes.end())
      return InvalidArgument(path + ": not a regular file");
    return it->second;
  }
};

class AcceptingDiskChecker : public DiskImageChecker {
 public:
  Status Check(const std::string&, std::string_view,
               const std::string&) override {
    return Status::Ok();
  }
};

TEST(ChargeOfDomainXmlTest, ReadsVcpusMemoryAndDisks) {
  FakeDiskSizes disks;
  disks.sizes = {{"/s/a.qcow2", 10 * kGiB}, {"/s/b.raw", 5 * kGiB}};
  StatusOr<DomainCharge> c = ChargeOfDomainXml(
      "<domain><name>vm</name>"
      "<uuid>01000000-0000-0000-0000-000000000000</uuid>"
      "<vcpu placement='static' current='2'>8</vcpu>"
      "<memory unit='GiB'>4</memory><currentMemory unit='MiB'>1024"
      "</currentMemory>"
      "<devices><disk type='file' device='disk'><source file='/s/a.qcow2'/>"
      "</disk><disk type='file' device='cdrom'><source file='/s/c.iso'/>"
      "</disk><disk type='file' device='cdrom'/></devices>"
      "<devices><disk type='file'><source file='/s/b.raw'/></disk></devices>"
      "</domain>",
      true, disks);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "vm");
  EXPECT_EQ(c->uuid, Dom("", 1, 0).uuid);
  EXPECT_TRUE(c->active);
  EXPECT_EQ(c->vcpus, 2u);
  EXPECT_EQ(c->memory_kib, 4u * 1024 * 1024);
  EXPECT_EQ(c->disk_bytes, 15 * kGiB);  // the cdroms are not charged
}

TEST(ChargeOfDomainXmlTest, MemoryIsTheLargestOfItsForms) {
  FakeDiskSizes disks;
  // No <vcpu>: libvirt's default of one. NUMA cells add up past <memory>.
  StatusOr<DomainCharge> c = ChargeOfDomainXml(
      "<domain><name>vm</name><memory>1024</memory>"
      "<currentMemory unit='b'>2097152</currentMemory>"
      "<cpu><numa><cell id='0' cpus='0' memory='3' unit='MB'/>"
      "<cell id='1' cpus='1' memory='1' unit='M'/></numa></cpu></domain>",
      false, disks);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->vcpus, 1u);
  // 3 MB = 3000000 bytes = 2929.6875 KiB -> 2930; + 1 MiB = 1024 KiB.
  EXPECT_EQ(c->memory_kib, 2930u + 1024u);
}

TEST(ChargeOfDomainXmlTest, Errors) {
  FakeDiskSizes disks;
  EXPECT_EQ(ChargeOfDomainXml("<domain><memory unit='parsecs'>1</memory>"
                              "</domain>",
                              false, disks)
                .status(),
            InvalidArgument("domain XML: <memory> is not an amount of memory"));
  EXPECT_EQ(ChargeOfDomainXml("<domain><vcpu>-1</vcpu></domain>", false, disks)
                .status(),
            InvalidArgument("domain XML: <vcpu> is not a count"));
  EXPECT_EQ(ChargeOfDomainXml("<domain><devices><disk><source "
                              "file='/dev/sda'/></disk></devices></domain>",
                              false, disks)
                .status(),
            InvalidArgument("/dev/sda: not a regular file"));
  EXPECT_EQ(ChargeOfDomainXml("<vm/>", false, disks).status(),
            InvalidArgument("domain XML: the root element is not <domain>"));
}

class FileDiskSizesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tvd-disk-sizes-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string dir_;
  FileDiskSizes sizes_;
};

TEST_F(FileDiskSizesTest, Qcow2VirtualSizeRawFileSize) {
  // A qcow2 header: magic, version 3, ..., size (big-endian) at offset 24.
  std::string header("QFI\xfb\0\0\0\x03", 8);
  header += std::string(16, '\0');
  header += std::string("\x00\x00\x00\x19\x00\x00\x00\x00", 8);  // 100 GiB
  header += std::string(100, '\0');
  EXPECT_EQ(*sizes_.SizeOf(Write("a.qcow2", header)), 100 * kGiB);
  EXPECT_EQ(*sizes_.SizeOf(Write("b.raw", std::string(4096, 'x'))), 4096u);
  // Too short to be a qcow2 header: its file size.
  EXPECT_EQ(*sizes_.SizeOf(Write("c", "QFI\xfb")), 4u);
  EXPECT_EQ(*sizes_.SizeOf(dir_ + "/missing"), 0u);
  EXPECT_EQ(sizes_.SizeOf(dir_).status(),
            InvalidArgument(dir_ + ": not a regular file"));
  // A FIFO neither blocks nor counts as an image.
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  EXPECT_EQ(sizes_.SizeOf(dir_ + "/fifo").status(),
            InvalidArgument(dir_ + "/fifo: not a regular file"));
}

// Blue (quota: 3 domains, 8 vCPUs, 4096 MiB, 20 GiB) has a running domain
// (4 vCPUs, 2048 MiB, 10 GiB) and a stopped one (2 vCPUs, 1024 MiB); red
// has a large running domain that never counts for blue.
class QuotaGuardTest : public ::testing::Test {
 protected:
  QuotaGuardTest() : cache_(directory_), guard_(directory_, cache_, disks_) {
    disks_.sizes = {{"/var/lib/tvd/blue/a.qcow2", 10 * kGiB},
                    {"/var/lib/tvd/blue/new.qcow2", 8 * kGiB}};
    directory_.domains = {
        {Dom("blue-a", 1, 1),
         Xml("blue",
             "<vcpu>4</vcpu><memory unit='MiB'>2048</memory>"
             "<devices><disk><source "
             "file='/var/lib/tvd/blue/a.qcow2'/></disk></devices>")},
        {Dom("blue-b", 2, -1),
         Xml("blue", "<vcpu>2</vcpu><memory unit='MiB'>1024</memory>")},
        {Dom("red-a", 3, 2),
         Xml("red", "<vcpu>64</vcpu><memory unit='GiB'>64</memory>")},
    };
    scope_.tvd = "blue";
    scope_.storage_path = "/var/lib/tvd/blue";
    scope_.quota.domains = 3;
    scope_.quota.vcpus = 8;
    scope_.quota.memory_mib = 4096;
    scope_.quota.disk_gib = 20;
  }

  static Bytes Args(const RemoteDomain& d, std::optional<std::uint32_t> u32,
                    std::optional<std::uint64_t> u64 = std::nullopt,
                    std::optional<std::uint32_t> flags = std::nullopt) {
    XdrWriter w;
    WriteDomain(w, d);
    if (u64) w.U64(*u64);
    if (u32) w.U32(*u32);
    if (flags) w.U32(*flags);
    return w.Take();
  }

  FakeDirectory directory_;
  FakeDiskSizes disks_;
  OwnershipCache cache_;
  QuotaGuard guard_;
  TenantScope scope_;
};

TEST_F(QuotaGuardTest, DefineReservesUntilReleased) {
  const std::string xml =
      "<domain><name>blue-new</name><vcpu>1</vcpu><memory>1024</memory>"
      "<devices><disk><source file='/var/lib/tvd/blue/new.qcow2'/></disk>"
      "</devices></domain>";
  StatusOr<std::uint64_t> first = guard_.AdmitDefine(scope_, xml, false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(*first, 0u);
  EXPECT_EQ(guard_.reserved("blue"), (QuotaAmounts{1, 0, 0, 8 * kGiB}));
  // The first define is not answered yet: a second one, on any connection,
  // sees it.
  EXPECT_EQ(guard_.AdmitDefine(scope_, xml, false).status(),
            ResourceExhausted("quota of TVD blue exceeded: domains per host "
                              "3, in use 3, this domain asks for 1"));
  guard_.Release(*first);
  EXPECT_EQ(guard_.reserved("blue"), QuotaAmounts{});
  guard_.Release(*first);  // twice: ignored
  EXPECT_TRUE(guard_.AdmitDefine(scope_, xml, false).ok());
}

TEST_F(QuotaGuardTest, CreateXmlChecksTheRunningDomains) {
  EXPECT_EQ(guard_
                .AdmitDefine(scope_,
                             "<domain><name>blue-new</name><vcpu>5</vcpu>"
                             "<memory>1024</memory></domain>",
                             true)
                .status(),
            ResourceExhausted("quota of TVD blue exceeded: vcpus per host 8, "
                              "in use 4, this domain asks for 5"));
}

TEST_F(QuotaGuardTest, StartAndLiveChanges) {
  const RemoteDomain a = Dom("blue-a", 1, 1);
  const RemoteDomain b = Dom("blue-b", 2, -1);
  StatusOr<std::uint64_t> start =
      guard_.AdmitDomainCall(scope_, kProcDomainCreate, Args(b, std::nullopt));
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(guard_.reserved("blue"), (QuotaAmounts{0, 2, 1024 * 1024, 0}));
  // While that start is in flight, a's growth sees it: 4 + 2 running.
  EXPECT_EQ(
      guard_.AdmitDomainCall(scope_, kProcDomainSetVcpus, Args(a, 7)).status(),
      ResourceExhausted("quota of TVD blue exceeded: vcpus per host 8, in use "
                        "2, this domain asks for 7"));
  StatusOr<std::uint64_t> grow = guard_.AdmitDomainCall(
      scope_, kProcDomainSetVcpusFlags, Args(a, 6, {}, 1));
  ASSERT_TRUE(grow.ok()) << grow.status().ToString();
  guard_.Release(*start);
  guard_.Release(*grow);
  // Memory: a live balloon inside the maximum changes nothing; a new
  // maximum for the persistent configuration must fit alone.
  EXPECT_TRUE(guard_
                  .AdmitDomainCall(scope_, kProcDomainSetMemory,
                                   Args(a, std::nullopt, 1024 * 1024))
                  .ok());
  EXPECT_EQ(guard_
                .AdmitDomainCall(scope_, kProcDomainSetMemoryFlags,
                                 Args(b, std::nullopt, 5ull * 1024 * 1024, 6))
                .status(),
            ResourceExhausted("quota of TVD blue exceeded: memory per host "
                              "4096 MiB, this domain alone asks for 5120 MiB"));
  // A new maximum of the running domain must fit the running usage.
  EXPECT_EQ(guard_
                .AdmitDomainCall(scope_, kProcDomainSetMaxMemory,
                                 Args(a, std::nullopt, 5ull * 1024 * 1024))
                .status(),
            ResourceExhausted("quota of TVD blue exceeded: memory per host "
                              "4096 MiB, in use 0 MiB, this domain asks for "
                              "5120 MiB"));
}

TEST_F(QuotaGuardTest, OtherCallsAndNoQuotaReadNothing) {
  const RemoteDomain a = Dom("blue-a", 1, 1);
  EXPECT_EQ(*guard_.AdmitDomainCall(scope_, kProcDomainGetInfo,
                                    Args(a, std::nullopt)),
            0u);
  TenantScope unlimited = scope_;
  unlimited.quota = {};
  EXPECT_EQ(*guard_.AdmitDomainCall(unlimited, kProcDomainCreate,
                                    Args(Dom("blue-b", 2, -1), std::nullopt)),
            0u);
  EXPECT_EQ(
      *guard_.AdmitDefine(unlimited, "<domain><vcpu>99</vcpu></domain>", true),
      0u);
  EXPECT_EQ(directory_.lists, 0);
}

TEST_F(QuotaGuardTest, UnknownUsageIsRefused) {
  directory_.list_fails = true;
  EXPECT_EQ(guard_
                .AdmitDomainCall(scope_, kProcDomainCreate,
                                 Args(Dom("blue-b", 2, -1), std::nullopt))
                .status(),
            Unavailable("cannot read the TVD's usage from libvirtd: libvirtd "
                        "went away"));
  EXPECT_EQ(
      guard_.AdmitDomainCall(scope_, kProcDomainSetVcpus, Bytes{0, 0, 0, 1})
          .status()
          .code(),
      ErrorCode::kProtocol);
}

// The SessionFilter hooks: refusal text, nothing forwarded, reservations
// released on reply and when the connection goes.
TEST_F(QuotaGuardTest, SessionFilterRefusesAndReleases) {
  NotFoundReplies not_found;
  AcceptingDiskChecker images;
  auto filter =
      std::make_unique<SessionFilter>(scope_, cache_, directory_, not_found,
                                      images, "test:///default", &guard_);
  XmlArgs define;
  define.xml =
      "<domain type='test'><name>blue-c</name><vcpu>9</vcpu>"
      "<memory>1024</memory></domain>";
  define.flags = 0;
  Packet p;
  p.header = PacketHeader{kRemoteProgram,     1, kProcDomainDefineXmlFlags,
                          MessageType::kCall, 1, MessageStatus::kOk};
  p.payload = EncodeXmlArgs(define);
  FilterOutput out;
  filter->OnClientPacket(p, out);
  EXPECT_TRUE(out.to_upstream.empty());
  ASSERT_EQ(out.to_client.size(), 1u);
  StatusOr<Packet> reply = DecodePacket(out.to_client.front());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(DecodeError(reply->payload)->message,
            "operation forbidden: quota of TVD blue exceeded: vcpus per host "
            "8, this domain alone asks for 9");

  // A start is forwarded with its reservation...
  Packet start;
  start.header = PacketHeader{kRemoteProgram,     1, kProcDomainCreate,
                              MessageType::kCall, 2, MessageStatus::kOk};
  start.payload = Args(Dom("blue-b", 2, -1), std::nullopt);
  FilterOutput fwd;
  filter->OnClientPacket(start, fwd);
  ASSERT_EQ(fwd.to_upstream.size(), 1u);
  EXPECT_EQ(guard_.reserved("blue").vcpus, 2u);
  // ... released when libvirtd answers ...
  Packet answer;
  answer.header = PacketHeader{kRemoteProgram,      1, kProcDomainCreate,
                               MessageType::kReply, 2, MessageStatus::kOk};
  FilterOutput back;
  filter->OnUpstreamPacket(answer, back);
  EXPECT_EQ(guard_.reserved("blue"), QuotaAmounts{});
  // ... or when the connection ends unanswered.
  start.header.serial = 3;
  filter->OnClientPacket(start, fwd);
  EXPECT_EQ(guard_.reserved("blue").vcpus, 2u);
  filter.reset();
  EXPECT_EQ(guard_.reserved("blue"), QuotaAmounts{});
}

// The master's side of a total, as the guard sees it: records each claim
// and grants it against a fixed amount the other hosts hold.
class FakeClaims : public TotalQuotaClaims {
 public:
  struct Call {
    std::string tvd;
    QuotaAmounts held;
    QuotaAmounts adds;
    friend bool operator==(const Call&, const Call&) = default;
  };
  std::vector<Call> calls;
  QuotaAmounts others;  // what the TVD's other hosts hold
  tvd::policy::QuotaLimits total;
  Status unreachable;  // returned instead when not OK
  Status Claim(const std::string& tvd, const QuotaAmounts& held,
               const QuotaAmounts& adds) override {
    calls.push_back({tvd, held, adds});
    if (!unreachable.ok()) return unreachable;
    QuotaAmounts in_use = others;
    in_use += held;
    return tvd::policy::CheckQuota(tvd, total, tvd::policy::QuotaScope::kTotal,
                                   in_use, adds);
  }
};

class TotalQuotaGuardTest : public QuotaGuardTest {
 protected:
  TotalQuotaGuardTest() : totals_(directory_, cache_, disks_, &claims_) {
    // No per-host quota: only the total applies.
    scope_.quota = {};
    scope_.total_quota.vcpus = 16;
    scope_.total_quota.disk_gib = 30;
    claims_.total = scope_.total_quota;
  }
  FakeClaims claims_;
  QuotaGuard totals_;
};

// blue holds here: 2 domains, a.qcow2 (10 GiB), 4 running vCPUs, 2 GiB.
constexpr QuotaAmounts kBlueHeld{2, 4, 2048 * 1024, 10 * kGiB};

TEST_F(TotalQuotaGuardTest, StartIsClaimedWithWhatTheHostHolds) {
  claims_.others = {0, 10, 0, 0};
  StatusOr<std::uint64_t> start = totals_.AdmitDomainCall(
      scope_, kProcDomainCreate, Args(Dom("blue-b", 2, -1), std::nullopt));
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  ASSERT_EQ(claims_.calls.size(), 1u);
  EXPECT_EQ(claims_.calls[0],
            (FakeClaims::Call{"blue", kBlueHeld, {0, 2, 1024 * 1024, 0}}));
  EXPECT_EQ(totals_.reserved("blue").vcpus, 2u);
  totals_.Release(*start);
}

TEST_F(TotalQuotaGuardTest, RefusalOfTheTotalIsTheCallsRefusal) {
  claims_.others = {0, 11, 0, 0};
  EXPECT_EQ(totals_
                .AdmitDomainCall(scope_, kProcDomainCreate,
                                 Args(Dom("blue-b", 2, -1), std::nullopt))
                .status(),
            ResourceExhausted("quota of TVD blue exceeded: vcpus in total 16, "
                              "in use 15, this domain asks for 2"));
  // Refused: nothing reserved here either.
  EXPECT_EQ(totals_.reserved("blue"), QuotaAmounts{});
  // A define adds disk: 10 here + 12 elsewhere + 8 new fits 30; 13 does not.
  const std::string xml =
      "<domain><name>blue-new</name><devices><disk><source "
      "file='/var/lib/tvd/blue/new.qcow2'/></disk></devices></domain>";
  claims_.others = {0, 0, 0, 12 * kGiB};
  StatusOr<std::uint64_t> fits = totals_.AdmitDefine(scope_, xml, false);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  totals_.Release(*fits);
  claims_.others = {0, 0, 0, 13 * kGiB};
  EXPECT_EQ(totals_.AdmitDefine(scope_, xml, false).status(),
            ResourceExhausted("quota of TVD blue exceeded: disk in total 30 "
                              "GiB, in use 23 GiB, this domain asks for 8 "
                              "GiB"));
}

TEST_F(TotalQuotaGuardTest, NoClaimWhenNothingLimitedGrows) {
  // A define adds a domain and no disk: domains have no total here.
  ASSERT_TRUE(
      totals_.AdmitDefine(scope_, "<domain><name>blue-c</name></domain>", false)
          .ok());
  // Shrinking the running a asks for nothing.
  ASSERT_TRUE(totals_
                  .AdmitDomainCall(scope_, kProcDomainSetVcpus,
                                   Args(Dom("blue-a", 1, 1), 2))
                  .ok());
  EXPECT_TRUE(claims_.calls.empty());
}

TEST_F(TotalQuotaGuardTest, UndecidableClaimRefusesTheCall) {
  claims_.unreachable = Unavailable(
      "the proxy of TVD blue on this host cannot be reached: no such file");
  EXPECT_EQ(totals_
                .AdmitDomainCall(scope_, kProcDomainCreate,
                                 Args(Dom("blue-b", 2, -1), std::nullopt))
                .status(),
            claims_.unreachable);
  // Without any path to the master (no proxy run directory) likewise.
  EXPECT_EQ(guard_
                .AdmitDomainCall(scope_, kProcDomainCreate,
                                 Args(Dom("blue-b", 2, -1), std::nullopt))
                .status(),
            Unavailable("no master path for the TVD's quota in total"));
}

TEST_F(TotalQuotaGuardTest, AnsweredCallsThatMayFreeMakeAReportDue) {
  using Clock = std::chrono::steady_clock;
  totals_.Answered(scope_, kProcDomainGetInfo);  // changes nothing
  TenantScope red = scope_;
  red.tvd = "red";
  red.total_quota = {};
  totals_.Answered(red, kProcDomainDestroy);  // red has no total
  EXPECT_TRUE(totals_.ReportsDue(Clock::now(), {}).empty());
  totals_.Answered(scope_, kProcDomainDestroy);
  std::vector<TenantScope> due =
      totals_.ReportsDue(Clock::now() + std::chrono::hours(1), {});
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].tvd, "blue");
  ASSERT_TRUE(totals_.ReportUsage(due[0]).ok());
  ASSERT_EQ(claims_.calls.size(), 1u);
  EXPECT_EQ(claims_.calls[0], (FakeClaims::Call{"blue", kBlueHeld, {}}));
  // At the periodic deadline every TVD with a total is due, seen or not.
  TenantScope green = scope_;
  green.tvd = "green";
  due = totals_.ReportsDue(Clock::now(), {red, green});
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].tvd, "blue");
  EXPECT_EQ(due[1].tvd, "green");
}

TEST_F(TotalQuotaGuardTest, WakeEndsTheWait) {
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    totals_.Wake();
  });
  std::vector<TenantScope> due = totals_.ReportsDue(
      std::chrono::steady_clock::now() + std::chrono::hours(1), {});
  waker.join();
  EXPECT_TRUE(due.empty());
}

}  // namespace
}  // namespace tvd::libvirt_filter

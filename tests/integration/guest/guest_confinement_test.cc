// libvirt's own confinement, the layer under the relay (docs/host.md
// "libvirt's own confinement"): with the qemu.conf of the libvirtd fixture
// (the testbed's is the same), QEMU runs as libvirt-qemu, not root, and
// libvirtd sees the host read-only except its own directories and /tmp.
//
// The attacks are sent through the ADMIN connection, as if the relay had
// let them through: the finding (a file-backed serial port that made
// QEMU create a root-owned file in /root), a disk naming a host file, and a
// QEMU that is told (over its monitor) to open files libvirt never gave it,
// which is what a guest that took over QEMU could do.
#include <grp.h>
#include <gtest/gtest.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "guest_util.h"
#include "tvd/log.h"
#include "tvd/testing/libvirtd.h"

namespace tvd::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of a "Key:\t..." line of /proc/PID/status ("" when missing).
std::string StatusField(pid_t pid, const std::string& key) {
  std::istringstream in(ReadText("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

std::string LastLibvirtError() {
  const char* m = virGetLastErrorMessage();
  return m ? m : "";
}

struct ConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using Connection = std::unique_ptr<virConnect, ConnectCloser>;
using Domain = std::unique_ptr<virDomain, DomainFreer>;

// A domain with no disk and no kernel: QEMU runs (SeaBIOS finds nothing to
// boot and waits), which is all the refused starts below need.
std::string BareDomainXml(const std::string& name, const std::string& extra) {
  return "<domain type='qemu'><name>" + name +
         "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
         "<devices><memballoon model='none'/>" +
         extra + "</devices></domain>";
}

class GuestConfinementTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto image = BuildGuestImage();
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = new GuestImage(*image);
    const passwd* pw = ::getpwnam("libvirt-qemu");
    const group* gr = ::getgrnam("libvirt-qemu");
    ASSERT_NE(pw, nullptr) << "no libvirt-qemu user";
    ASSERT_NE(gr, nullptr) << "no libvirt-qemu group";
    qemu_uid_ = pw->pw_uid;
    qemu_gid_ = gr->gr_gid;
    std::string tmpl =
        "/tmp/tvd-confine-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    // QEMU may traverse it (its domain's files live here), not list or
    // write it.
    ASSERT_EQ(::chmod(dir_->c_str(), 0711), 0);
    // Errors are checked where they happen; no copy on stderr.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    LibvirtdInstance::Options options;
    options.qemu = true;
    auto libvirtd = LibvirtdInstance::Start(options);
    ASSERT_TRUE(libvirtd.ok()) << libvirtd.status();
    libvirtd_ = libvirtd->release();
    conn_ = virConnectOpen(libvirtd_->ClientUri("qemu:///system").c_str());
    ASSERT_NE(conn_, nullptr) << LastLibvirtError();

    socket_ = new std::string(*dir_ + "/probe.sock");
    std::string xml =
        "<domain type='qemu'><name>probe</name>"
        "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type>"
        "<kernel>" +
        image_->kernel() + "</kernel><initrd>" + image_->initrd() +
        "</initrd><cmdline>console=ttyS0 tvd.ip=198.18.9.9/24 "
        "tvd.name=probe</cmdline></os>"
        "<devices><disk type='file' device='disk'><driver name='qemu' "
        "type='raw'/><source file='" +
        image_->disk() +
        "'/><target dev='vda' bus='virtio'/><readonly/></disk>"
        "<serial type='unix'><source mode='bind' path='" +
        *socket_ +
        "'/><target port='0'/></serial>"
        "<memballoon model='none'/></devices></domain>";
    probe_ = virDomainCreateXML(conn_, xml.c_str(), 0);
    ASSERT_NE(probe_, nullptr) << LastLibvirtError();
  }
  static void TearDownTestSuite() {
    if (probe_ != nullptr) {
      virDomainDestroy(probe_);
      virDomainFree(probe_);
    }
    probe_ = nullptr;
    if (conn_ != nullptr) virConnectClose(conn_);
    conn_ = nullptr;
    delete libvirtd_;
    libvirtd_ = nullptr;
    if (dir_ != nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*dir_, ec);
    }
    delete dir_;
    delete socket_;
    delete image_;
  }
  void SetUp() override {
    ASSERT_NE(probe_, nullptr);
    ASSERT_NE(conn_, nullptr);
  }

  // The pid of the running domain NAME's QEMU (libvirt's pid file).
  static pid_t QemuPid(const std::string& name) {
    std::string text =
        ReadText(libvirtd_->dir() + "/run/libvirt/qemu/" + name + ".pid");
    return static_cast<pid_t>(std::atoi(text.c_str()));
  }

  // Sends a QMP command to the probe's QEMU (libvirt's monitor pass-through,
  // admin connection only) and returns "ok" when QEMU did it, or the
  // "desc" of QEMU's error reply.
  static std::string Qmp(const std::string& command) {
    char* reply = nullptr;
    if (virDomainQemuMonitorCommand(probe_, command.c_str(), &reply, 0) != 0) {
      return "libvirt: " + LastLibvirtError();
    }
    std::string out = reply;
    std::free(reply);
    if (out.find("\"return\"") != std::string::npos) return "ok";
    const std::string key = "\"desc\":\"";
    std::size_t at = out.find(key);
    if (at == std::string::npos) return "unexpected reply: " + out;
    std::size_t end = out.find('"', at + key.size());
    return out.substr(at + key.size(), end - at - key.size());
  }

  // Defines NAME from XML through the admin connection, starts it, and
  // returns libvirt's error ("" when it started); the domain is destroyed
  // and undefined either way.
  static std::string DefineAndStart(const std::string& name,
                                    const std::string& xml) {
    Domain d(virDomainDefineXML(conn_, xml.c_str()));
    if (d == nullptr) return "define: " + LastLibvirtError();
    std::string error;
    if (virDomainCreate(d.get()) != 0) {
      error = LastLibvirtError();
    } else {
      virDomainDestroy(d.get());
    }
    EXPECT_EQ(virDomainUndefine(d.get()), 0) << name << LastLibvirtError();
    return error;
  }

  static GuestImage* image_;
  static LibvirtdInstance* libvirtd_;
  static virConnectPtr conn_;
  static virDomainPtr probe_;
  static std::string* dir_;
  static std::string* socket_;
  static uid_t qemu_uid_;
  static gid_t qemu_gid_;
};

GuestImage* GuestConfinementTest::image_ = nullptr;
LibvirtdInstance* GuestConfinementTest::libvirtd_ = nullptr;
virConnectPtr GuestConfinementTest::conn_ = nullptr;
virDomainPtr GuestConfinementTest::probe_ = nullptr;
std::string* GuestConfinementTest::dir_ = nullptr;
std::string* GuestConfinementTest::socket_ = nullptr;
uid_t GuestConfinementTest::qemu_uid_ = 0;
gid_t GuestConfinementTest::qemu_gid_ = 0;

TEST_F(GuestConfinementTest, QemuRunsAsLibvirtQemuWithoutCapabilities) {
  pid_t pid = QemuPid("probe");
  ASSERT_GT(pid, 0);
  std::string uid = std::to_string(qemu_uid_);
  std::string gid = std::to_string(qemu_gid_);
  // Real, effective, saved and file-system ids.
  EXPECT_EQ(StatusField(pid, "Uid"),
            uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(StatusField(pid, "Gid"),
            gid + "\t" + gid + "\t" + gid + "\t" + gid);
  EXPECT_EQ(StatusField(pid, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(pid, "CapPrm"), "0000000000000000");
  // The guest works: libvirtd made the serial socket and handed it over.
  auto boot = WaitForGuestShell(*socket_, std::chrono::seconds(90));
  ASSERT_TRUE(boot.ok()) << boot.status();
  log::Info("confined guest boot to shell prompt: ", boot->count(), " ms");
  auto r = GuestExec(*socket_, "echo confined");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(r->out, "confined\n");
  struct stat st {};
  ASSERT_EQ(::stat(socket_->c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, qemu_uid_);
}

TEST_F(GuestConfinementTest, QemuToldToOpenARootOnlyFileIsRefused) {
  // A root-only file in the very directory that holds the domain's socket:
  // libvirt never gave it to QEMU, so QEMU's uid cannot open it.
  std::string secret = *dir_ + "/root-only";
  {
    std::ofstream out(secret);
    out << "not for QEMU\n";
  }
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  EXPECT_EQ(
      Qmp("{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\","
          "\"node-name\":\"stolen\",\"read-only\":true,\"filename\":\"" +
          secret + "\"}}"),
      "Could not open '" + secret + "': Permission denied");
}

TEST_F(GuestConfinementTest, QemuCannotCreateAFileInARootOwnedDirectory) {
  // The domain's own directory: QEMU may pass through it, not write in it.
  std::string target = *dir_ + "/created-by-qemu";
  EXPECT_EQ(Qmp("{\"execute\":\"chardev-add\",\"arguments\":{\"id\":"
                "\"c1\",\"backend\":{\"type\":\"file\",\"data\":{\"out\":"
                "\"" +
                target + "\"}}}}"),
            "Failed to add chardev 'c1': Could not open '" + target +
                "': Permission denied");
  EXPECT_FALSE(std::filesystem::exists(target));
  std::error_code ec;  // A failed run leaves nothing behind either.
  std::filesystem::remove(target, ec);
}

TEST_F(GuestConfinementTest, QemuCannotCreateAFileInRoot) {
  std::string target = "/root/tvd-confine-" + std::to_string(::getpid());
  EXPECT_EQ(Qmp("{\"execute\":\"chardev-add\",\"arguments\":{\"id\":"
                "\"c2\",\"backend\":{\"type\":\"file\",\"data\":{\"out\":"
                "\"" +
                target + "\"}}}}"),
            "Failed to add chardev 'c2': Could not open '" + target +
                "': Permission denied");
  EXPECT_FALSE(std::filesystem::exists(target));
  std::error_code ec;  // A failed run leaves nothing behind either.
  std::filesystem::remove(target, ec);
}

// The finding, replayed through the admin connection: libvirtd
// itself pre-creates a file chardev's path (as root, then chowns it to
// QEMU), so an unprivileged QEMU alone would not have stopped it; the
// read-only host view does.
TEST_F(GuestConfinementTest, FileSerialInRootCreatesNothing) {
  std::string target =
      "/root/tvd-confine-" + std::to_string(::getpid()) + ".log";
  EXPECT_EQ(DefineAndStart(
                "serial-in-root",
                BareDomainXml("serial-in-root",
                              "<serial type='file'><source path='" + target +
                                  "'/><target port='0'/></serial>")),
            "Failed to create file '" + target + "': Read-only file system");
  EXPECT_FALSE(std::filesystem::exists(target));
  std::error_code ec;  // A failed run leaves nothing behind either.
  std::filesystem::remove(target, ec);
}

// A disk naming a root-only host file: libvirt cannot chown it to QEMU
// (read-only view) and QEMU's uid cannot open it; its owner and mode are
// unchanged.
TEST_F(GuestConfinementTest, DiskNamingAHostFileIsNotOpened) {
  struct stat before {
  }, after{};
  ASSERT_EQ(::stat("/etc/shadow", &before), 0);
  ASSERT_EQ(before.st_mode & 0007, 0u) << "/etc/shadow is world-accessible";
  std::string error = DefineAndStart(
      "disk-on-shadow",
      BareDomainXml("disk-on-shadow",
                    "<disk type='file' device='disk'><driver name='qemu' "
                    "type='raw'/><source file='/etc/shadow'/><target "
                    "dev='vda' bus='virtio'/></disk>"));
  // libvirt's message ends with QEMU's last line (after a timestamp) when
  // it saw QEMU exit before connecting to its monitor, and is "failed to
  // connect to monitor socket" when QEMU exited while it connected (seen
  // under ThreadSanitizer). QEMU's own log says why in both cases.
  while (!error.empty() && error.back() == '\n') error.pop_back();
  const std::string tail = "Could not open '/etc/shadow': Permission denied";
  EXPECT_TRUE(error.ends_with(tail) ||
              error.find("failed to connect to monitor socket") !=
                  std::string::npos)
      << error;
  const std::string qemu_log =
      ReadText(libvirtd_->dir() + "/log/qemu/disk-on-shadow.log");
  EXPECT_NE(qemu_log.find(tail), std::string::npos) << qemu_log;
  ASSERT_EQ(::stat("/etc/shadow", &after), 0);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  EXPECT_EQ(after.st_mode, before.st_mode);
}

}  // namespace
}  // namespace tvd::testing

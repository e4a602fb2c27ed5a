// Disk encryption with a real guest (GuestHostTest: real libvirtd with
// QEMU, the real TvdProxy, the FakeMaster releasing the TVD's disk key):
// the proxy hands the released key to libvirt as an ephemeral, private
// secret; QEMU opens the LUKS-encrypted qcow2 with it and the guest reads
// the plaintext, while the file on the host holds only ciphertext. A key
// that does not open the disk fails the attach and leaves no domain, no
// secret, no tap and no port. Detach removes the secret; the key is in no
// file at any time.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "guest_host.h"
#include "tvd/process.h"
#include "tvd/proxy/disk_passphrase.h"
#include "tvd/proxy/luks_qcow2.h"

namespace tvd::proxy::testing {
namespace {

using tvd::testing::GuestExec;

constexpr char kLabel[] = "TVD encrypted data disk, blue-e";

class GuestDiskEncryptionTest : public GuestHostTest {
 protected:
  // A member, so that it outlives TearDown's Leave of the proxy.
  FakeMaster master_{MakePolicy("blue", 31, {})};

  // Makes a 4 MiB LUKS qcow2 at `path` whose first bytes are kLabel,
  // encrypted with the passphrase a proxy derives from `key`: created as
  // the proxy creates disks, then filled by plain qemu-img (which must
  // open it). Only for qemu-img, the passphrase is written to a 0600 file
  // in the test's directory, removed before returning (the proxy never
  // writes one).
  void MakeEncryptedDisk(const std::string& path,
                         const std::vector<std::uint8_t>& key) {
    SecureBytes passphrase = DiskPassphrase(SecureBytes(key));
    Status created = CreateLuksQcow2(path, 4, passphrase);
    ASSERT_TRUE(created.ok()) << created;
    std::string plain = dir_.path() + "/plain.raw";
    {
      std::ofstream out(plain, std::ios::binary);
      out << kLabel;
      out.seekp(4 * 1024 * 1024 - 1);
      out.put('\0');
    }
    std::string key_file = dir_.path() + "/qemu-img.passphrase";
    {
      std::ofstream out(key_file, std::ios::binary);
      out.write(reinterpret_cast<const char*>(passphrase.data()),
                static_cast<std::streamsize>(passphrase.size()));
    }
    ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
    ProcessOptions opts;
    // -n: into the existing image, so no new LUKS header (and no PBKDF2
    // timing) is made here.
    opts.argv = {
        "qemu-img",
        "convert",
        "-n",
        "--object",
        "secret,id=k0,format=raw,file=" + key_file,
        "-f",
        "raw",
        "--target-image-opts",
        plain,
        "driver=qcow2,file.filename=" + path + ",encrypt.key-secret=k0"};
    auto r = RunCommand(opts);
    std::filesystem::remove(key_file);
    std::filesystem::remove(plain);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_status, 0) << r->out << r->err;
  }

  static bool FileContains(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    return data.find(what) != std::string::npos;
  }

  // Every regular file under libvirtd's private directories (state, run,
  // config, logs) and the test's own directory that holds `key`, raw or as
  // its passphrase.
  std::vector<std::string> FilesHoldingTheKey(
      const std::vector<std::uint8_t>& key) {
    std::string raw(key.begin(), key.end());
    SecureBytes passphrase = DiskPassphrase(SecureBytes(key));
    std::string hex(passphrase.view().begin(), passphrase.view().end());
    std::vector<std::string> found;
    for (const std::string& root : {libvirtd_->dir(), dir_.path()}) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(
               root, std::filesystem::directory_options::skip_permission_denied,
               ec);
           it != std::filesystem::recursive_directory_iterator();
           it.increment(ec)) {
        if (ec) break;
        if (it->is_regular_file(ec) &&
            (FileContains(it->path(), raw) || FileContains(it->path(), hex))) {
          found.push_back(it->path());
        }
      }
    }
    return found;
  }

  // libvirt's answer to reading a secret's value back (private secrets
  // refuse it): empty when the value was returned.
  std::string ReadSecretValueError(const std::string& uuid) {
    virConnectPtr conn =
        virConnectOpen(libvirtd_->ClientUri("secret:///system").c_str());
    if (conn == nullptr) return "cannot connect";
    std::string error;
    virSecretPtr secret = virSecretLookupByUUIDString(conn, uuid.c_str());
    if (secret == nullptr) {
      error = "no such secret";
    } else {
      size_t size = 0;
      unsigned char* value = virSecretGetValue(secret, &size, 0);
      if (value == nullptr) {
        const char* msg = virGetLastErrorMessage();
        error = msg != nullptr ? msg : "refused";
      } else {
        ::free(value);
      }
      virSecretFree(secret);
    }
    virConnectClose(conn);
    return error;
  }
};

TEST_F(GuestDiskEncryptionTest, GuestReadsTheDiskOnlyWithTheReleasedKey) {
  std::string disk = dir_.path() + "/blue-e-data.qcow2";
  FakeMaster& master = master_;
  MakeEncryptedDisk(disk, master.disk_key);
  EXPECT_FALSE(FileContains(disk, kLabel)) << "the image is not encrypted";

  Guest g = MakeGuest(dir_.path(), *image_, "blue-e", "blue", "bluee0",
                      "52:54:00:00:0e:0e", "198.18.9.20", disk);
  master.policy_ = MakePolicy("blue", 31, {g.vm});
  ASSERT_TRUE(master.policy_.ReleasesDiskKeyTo("blue-e"));
  blue_proxy_ = NewProxy("blue", master);
  ASSERT_TRUE(blue_proxy_->Join().ok());

  // A key that does not open the disk: QEMU refuses to start the domain,
  // and the attach is undone completely.
  std::vector<std::uint8_t> right_key = master.disk_key;
  master.disk_key.assign(32, 0x22);
  auto wrong = blue_proxy_->Attach(g.vm.config_path);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("VM 'blue-e': starting"),
            std::string::npos)
      << wrong.status();
  // Refused for the key (QEMU's words), not for anything else.
  EXPECT_NE(wrong.status().message().find("cannot unlock any keyslot"),
            std::string::npos)
      << wrong.status();
  EXPECT_TRUE(Domains().empty());
  auto secrets = hypervisor_->ListSecrets("");
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_TRUE(secrets->empty());
  EXPECT_FALSE(TapExists(TapName("blue", 31, g.vm.name, 0)));
  EXPECT_EQ(VmPorts(), "");

  // The released key: the guest boots and reads the plaintext from vdb.
  master.disk_key = right_key;
  auto attached = blue_proxy_->Attach(g.vm.config_path);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(master.disk_key_requests,
            (std::vector<std::string>{"blue/blue-e", "blue/blue-e"}));
  secrets = hypervisor_->ListSecrets("");
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  ASSERT_EQ(secrets->size(), 1u);
  std::string refused = ReadSecretValueError(secrets->front());
  EXPECT_NE(refused, "") << "libvirt returned the private secret's value";
  EXPECT_NE(refused, "no such secret");
  auto boot =
      tvd::testing::WaitForGuestShell(g.socket, std::chrono::seconds(60));
  ASSERT_TRUE(boot.ok()) << boot.status();
  auto read =
      GuestExec(g.socket, std::string("head -c ") +
                              std::to_string(sizeof(kLabel) - 1) + " /dev/vdb");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->exit_status, 0) << read->err;
  EXPECT_EQ(read->out, kLabel);
  // The key was handed over in memory only: no file of libvirtd's (state,
  // config, logs) nor of the test's directory holds it.
  EXPECT_EQ(FilesHoldingTheKey(right_key), std::vector<std::string>{});

  // Detach: domain and secret gone.
  ASSERT_TRUE(blue_proxy_->Detach("blue-e").ok());
  EXPECT_TRUE(Domains().empty());
  secrets = hypervisor_->ListSecrets("");
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_TRUE(secrets->empty());
  EXPECT_EQ(FilesHoldingTheKey(right_key), std::vector<std::string>{});
}

TEST_F(GuestDiskEncryptionTest, ProxyCreatesAMissingDiskTheGuestKeepsDataOn) {
  std::string disk = dir_.path() + "/blue-n-data.qcow2";
  Guest g = MakeGuest(dir_.path(), *image_, "blue-n", "blue", "bluen0",
                      "52:54:00:00:0e:0f", "198.18.9.21", disk,
                      /*create_mib=*/8);
  master_.policy_ = MakePolicy("blue", 31, {g.vm});
  blue_proxy_ = NewProxy("blue", master_);
  ASSERT_TRUE(blue_proxy_->Join().ok());
  ASSERT_FALSE(std::filesystem::exists(disk));
  auto attached = blue_proxy_->Attach(g.vm.config_path);
  ASSERT_TRUE(attached.ok()) << attached.status();

  // A LUKS qcow2 of 8 MiB, readable by root only.
  struct stat st {};
  ASSERT_EQ(::stat(disk.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ProcessOptions info;
  info.argv = {"qemu-img", "info", "--output=json", "-U", disk};
  auto r = RunCommand(info);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->out.find("\"encrypted\": true"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("\"virtual-size\": 8388608"), std::string::npos)
      << r->out;
  EXPECT_NE(r->out.find("\"format\": \"luks\""), std::string::npos) << r->out;

  // The guest writes to it; the host's file holds only ciphertext.
  auto boot =
      tvd::testing::WaitForGuestShell(g.socket, std::chrono::seconds(60));
  ASSERT_TRUE(boot.ok()) << boot.status();
  auto wrote = GuestExec(
      g.socket, std::string("printf '") + kLabel + "' > /dev/vdb && sync");
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_EQ(wrote->exit_status, 0) << wrote->err;
  ASSERT_TRUE(blue_proxy_->Detach("blue-n").ok());
  EXPECT_FALSE(FileContains(disk, kLabel));

  // Attached again: the same disk (not created anew) with the data on it.
  attached = blue_proxy_->Attach(g.vm.config_path);
  ASSERT_TRUE(attached.ok()) << attached.status();
  boot = tvd::testing::WaitForGuestShell(g.socket, std::chrono::seconds(60));
  ASSERT_TRUE(boot.ok()) << boot.status();
  auto read =
      GuestExec(g.socket, std::string("head -c ") +
                              std::to_string(sizeof(kLabel) - 1) + " /dev/vdb");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->out, kLabel);
  EXPECT_EQ(FilesHoldingTheKey(master_.disk_key), std::vector<std::string>{});
}

}  // namespace
}  // namespace tvd::proxy::testing

// FileDiskImageChecker on real images made with qemu-img in a private
// directory (a TVD storage directory and an "outside" beside it), and on a
// few headers bent by hand where qemu-img will not write them.
#include "tvd/libvirt_filter/file_disk_image_checker.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tvd/process.h"

namespace tvd::libvirt_filter {
namespace {

class FileDiskImageCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/tvd-disk-image-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    storage_ = root_ + "/storage";
    outside_ = root_ + "/outside";
    std::filesystem::create_directories(storage_);
    std::filesystem::create_directories(outside_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // qemu-img create -f qcow2 [-u -b BACKING -F FORMAT] [extra...] PATH 1M.
  void Qcow2(const std::string& path, const std::string& backing = "",
             const std::string& backing_format = "qcow2",
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
    if (!backing.empty()) {
      argv.insert(argv.end(), {"-u", "-b", backing, "-F", backing_format});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {path, "1M"});
    Status s = RunChecked(argv);
    ASSERT_TRUE(s.ok()) << s;
  }
  void Raw(const std::string& path) { std::ofstream(path) << "raw data"; }

  Status Check(const std::string& path, const std::string& format = "qcow2") {
    return checker_.Check(path, format, storage_);
  }
  std::string S(const std::string& name) const { return storage_ + "/" + name; }

  FileDiskImageChecker checker_;
  std::string root_, storage_, outside_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST_F(FileDiskImageCheckerTest, ChainInsideStorageIsAccepted) {
  std::filesystem::create_directories(S("base"));
  Qcow2(S("base/debian.qcow2"));
  Qcow2(S("mid.qcow2"), "base/debian.qcow2");  // relative to its directory
  Qcow2(S("top.qcow2"), S("mid.qcow2"));       // absolute
  EXPECT_EQ(Check(S("top.qcow2")), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, RelativeDotDotInsideStorageIsAccepted) {
  std::filesystem::create_directories(S("vm1"));
  Qcow2(S("base.qcow2"));
  Qcow2(S("vm1/top.qcow2"), "../base.qcow2");
  EXPECT_EQ(Check(S("vm1/top.qcow2")), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, Version2ImageIsRead) {
  Qcow2(S("base.qcow2"));
  Qcow2(S("top.qcow2"), "base.qcow2", "qcow2", {"-o", "compat=0.10"});
  EXPECT_EQ(Check(S("top.qcow2")), Status::Ok());
  Qcow2(S("bad.qcow2"), "/etc/passwd", "raw", {"-o", "compat=0.10"});
  EXPECT_EQ(Check(S("bad.qcow2")),
            PermissionDenied(S("bad.qcow2") +
                             ": backing file '/etc/passwd' (/etc/passwd) is "
                             "not inside the TVD storage " +
                             storage_ + "/"));
}

TEST_F(FileDiskImageCheckerTest, LuksEncryptedChainIsAccepted) {
  // The encryption header lives inside the image (an extension pointing into
  // it), as in the disks the proxy creates.
  const std::vector<std::string> luks = {
      "--object", "secret,id=sec0,data=test-passphrase", "-o",
      "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10"};
  Qcow2(S("base.qcow2"), "", "", luks);
  Qcow2(S("top.qcow2"), "base.qcow2", "qcow2", luks);
  EXPECT_EQ(Check(S("top.qcow2")), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, LargestClusterSizeIsRead) {
  Qcow2(S("base.qcow2"), "", "", {"-o", "cluster_size=2M"});
  Qcow2(S("top.qcow2"), "base.qcow2", "qcow2", {"-o", "cluster_size=2M"});
  EXPECT_EQ(Check(S("top.qcow2")), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, RawImageAndRawBackingAreAccepted) {
  Raw(S("disk.img"));
  EXPECT_EQ(Check(S("disk.img"), "raw"), Status::Ok());
  Qcow2(S("top.qcow2"), "disk.img", "raw");
  EXPECT_EQ(Check(S("top.qcow2")), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, MissingTopImageIsAccepted) {
  EXPECT_EQ(Check(S("not-yet.qcow2")), Status::Ok());
  EXPECT_EQ(Check(S("no/such/dir/x.iso"), "raw"), Status::Ok());
}

TEST_F(FileDiskImageCheckerTest, TopImageOutsideStorageIsRefused) {
  Qcow2(outside_ + "/x.qcow2");
  EXPECT_EQ(Check(outside_ + "/x.qcow2"),
            PermissionDenied(outside_ +
                             "/x.qcow2: is not inside the TVD "
                             "storage " +
                             storage_ + "/"));
  EXPECT_EQ(Check(storage_ + "/../outside/x.qcow2"),
            PermissionDenied(storage_ +
                             "/../outside/x.qcow2: is not inside the TVD "
                             "storage " +
                             storage_ + "/"));
}

TEST_F(FileDiskImageCheckerTest, OtherFormatsAreRefused) {
  Raw(S("disk.vmdk"));
  EXPECT_EQ(Check(S("disk.vmdk"), "vmdk"),
            PermissionDenied(S("disk.vmdk") +
                             ": disk format 'vmdk' is not allowed (only qcow2 "
                             "and raw)"));
}

TEST_F(FileDiskImageCheckerTest, BackingFileOutsideStorageIsRefused) {
  Qcow2(outside_ + "/other-tvd.qcow2");
  Qcow2(S("top.qcow2"), outside_ + "/other-tvd.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("top.qcow2") + ": backing file '" + outside_ +
                             "/other-tvd.qcow2' (" + outside_ +
                             "/other-tvd.qcow2) is not inside the TVD "
                             "storage " +
                             storage_ + "/"));
}

TEST_F(FileDiskImageCheckerTest, RelativeBackingEscapingWithDotDotIsRefused) {
  Qcow2(outside_ + "/base.qcow2");
  Qcow2(S("top.qcow2"), "../outside/base.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(
                S("top.qcow2") + ": backing file '../outside/base.qcow2' (" +
                outside_ + "/base.qcow2) is not inside the TVD storage " +
                storage_ + "/"));
}

TEST_F(FileDiskImageCheckerTest, EscapeDeeperInTheChainIsRefused) {
  Qcow2(S("base.qcow2"), "/etc/passwd", "raw");
  Qcow2(S("mid.qcow2"), "base.qcow2");
  Qcow2(S("top.qcow2"), "mid.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("base.qcow2") +
                             ": backing file '/etc/passwd' (/etc/passwd) is "
                             "not inside the TVD storage " +
                             storage_ + "/"));
}

TEST_F(FileDiskImageCheckerTest, SymlinkedBackingFileIsRefused) {
  // Even a link that points inside the storage: it could be re-pointed.
  Qcow2(S("base.qcow2"));
  std::filesystem::create_symlink(S("base.qcow2"), S("link.qcow2"));
  Qcow2(S("top.qcow2"), "link.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("link.qcow2") +
                             ": is a symbolic link (a disk image must be the "
                             "file itself)"));
}

TEST_F(FileDiskImageCheckerTest, SymlinkedTopImageIsRefused) {
  Qcow2(outside_ + "/x.qcow2");
  std::filesystem::create_symlink(outside_ + "/x.qcow2", S("top.qcow2"));
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("top.qcow2") +
                             ": is a symbolic link (a disk image must be the "
                             "file itself)"));
}

TEST_F(FileDiskImageCheckerTest, SymlinkedDirectoryIsRefused) {
  Qcow2(outside_ + "/base.qcow2");
  std::filesystem::create_symlink(outside_, S("sub"));
  Qcow2(S("top.qcow2"), "sub/base.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("sub/base.qcow2") + ": " + S("sub") +
                             " is a symbolic link (no link may lie on the way "
                             "to a disk image)"));
  EXPECT_EQ(Check(S("sub/base.qcow2")),
            PermissionDenied(S("sub/base.qcow2") + ": " + S("sub") +
                             " is a symbolic link (no link may lie on the way "
                             "to a disk image)"));
}

TEST_F(FileDiskImageCheckerTest, LoopIsRefused) {
  Qcow2(S("a.qcow2"), "b.qcow2");
  Qcow2(S("b.qcow2"), "a.qcow2");
  EXPECT_EQ(Check(S("a.qcow2")),
            PermissionDenied(S("a.qcow2") +
                             ": appears twice in the backing "
                             "chain of " +
                             S("a.qcow2") + " (a loop)"));
  Qcow2(S("self.qcow2"), "./self.qcow2");
  EXPECT_EQ(Check(S("self.qcow2")),
            PermissionDenied(S("self.qcow2") +
                             ": appears twice in the "
                             "backing chain of " +
                             S("self.qcow2") + " (a loop)"));
}

TEST_F(FileDiskImageCheckerTest, HardLinkLoopIsRefused) {
  Qcow2(S("a.qcow2"), "b.qcow2");
  ASSERT_EQ(::link(S("a.qcow2").c_str(), S("b.qcow2").c_str()), 0);
  EXPECT_EQ(Check(S("a.qcow2")),
            PermissionDenied(S("b.qcow2") +
                             ": appears twice in the backing "
                             "chain of " +
                             S("a.qcow2") + " (a loop)"));
}

TEST_F(FileDiskImageCheckerTest, ChainOfEightBackingFilesIsTheLimit) {
  Qcow2(S("0.qcow2"));
  for (int i = 1; i <= 8; ++i) {
    Qcow2(S(std::to_string(i) + ".qcow2"), std::to_string(i - 1) + ".qcow2");
  }
  EXPECT_EQ(Check(S("8.qcow2")), Status::Ok());
  Qcow2(S("9.qcow2"), "8.qcow2");
  EXPECT_EQ(Check(S("9.qcow2")),
            PermissionDenied(S("1.qcow2") + ": backing chain of " +
                             S("9.qcow2") + " is longer than 8 backing files"));
}

TEST_F(FileDiskImageCheckerTest, MissingBackingFileIsRefused) {
  Qcow2(S("top.qcow2"), "gone.qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("gone.qcow2") +
                             ": does not exist (a backing chain must be whole "
                             "to be checked)"));
}

TEST_F(FileDiskImageCheckerTest, MissingBackingFormatIsRefused) {
  // qemu-img no longer writes a backing file without its format; blank the
  // extension's type so QEMU would skip it and probe.
  Qcow2(S("base.qcow2"));
  Qcow2(S("top.qcow2"), "base.qcow2");
  std::string bytes = ReadAll(S("top.qcow2"));
  std::size_t at = bytes.find("\xe2\x79\x2a\xca");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 4, "\x12\x34\x56\x78");
  WriteAll(S("top.qcow2"), bytes);
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("top.qcow2") +
                             ": backing file 'base.qcow2': backing file format "
                             "not recorded in the header; probing is not "
                             "allowed"));
}

TEST_F(FileDiskImageCheckerTest, OtherBackingFormatIsRefused) {
  Raw(S("base.vmdk"));
  Qcow2(S("top.qcow2"), "base.vmdk", "vmdk");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("top.qcow2") +
                             ": backing file 'base.vmdk' has format 'vmdk' "
                             "(only qcow2 and raw are allowed)"));
}

TEST_F(FileDiskImageCheckerTest, ProtocolBackingNamesAreRefused) {
  Qcow2(S("nbd.qcow2"), "nbd:127.0.0.1:10809", "raw");
  EXPECT_EQ(Check(S("nbd.qcow2")),
            PermissionDenied(S("nbd.qcow2") +
                             ": backing file 'nbd:127.0.0.1:10809' is not a "
                             "plain file path (QEMU reads '<word>:' as a "
                             "protocol)"));
  Qcow2(S("json.qcow2"),
        "json:{\"file.driver\":\"file\",\"file.filename\":\"/etc/shadow\"}",
        "raw");
  EXPECT_EQ(Check(S("json.qcow2")),
            PermissionDenied(
                S("json.qcow2") +
                ": backing file 'json:{\"file.driver\":\"file\",\"file."
                "filename\":\"/etc/shadow\"}' is not a plain file path (QEMU "
                "reads '<word>:' as a protocol)"));
  Qcow2(S("file.qcow2"), "file:" + S("base.qcow2"), "qcow2");
  EXPECT_EQ(Check(S("file.qcow2")),
            PermissionDenied(S("file.qcow2") +
                             ": backing file 'file:" + S("base.qcow2") +
                             "' is not a plain file path (QEMU reads '<word>:' "
                             "as a protocol)"));
}

TEST_F(FileDiskImageCheckerTest, ExternalDataFileIsRefused) {
  // Even inside the storage: the data file is another path QEMU opens.
  Qcow2(S("df.qcow2"), "", "", {"-o", "data_file=" + S("data.raw")});
  EXPECT_EQ(Check(S("df.qcow2")),
            PermissionDenied(S("df.qcow2") + ": qcow2 external data file '" +
                             S("data.raw") +
                             "' is not allowed (an image's data must be inside "
                             "the image)"));
}

TEST_F(FileDiskImageCheckerTest, HeaderThatDoesNotParseIsInvalid) {
  Raw(S("fake.qcow2"));
  EXPECT_EQ(Check(S("fake.qcow2")),
            InvalidArgument(S("fake.qcow2") +
                            ": qcow2 header: magic at offset 0 is 0x72617720, "
                            "not QFI\\xfb"));
}

TEST_F(FileDiskImageCheckerTest, BackingDeclaredQcow2MustBeQcow2) {
  // A raw file cannot pass itself off as a qcow2 image of another chain.
  Raw(S("base.img"));
  Qcow2(S("top.qcow2"), "base.img", "qcow2");
  EXPECT_EQ(Check(S("top.qcow2")),
            InvalidArgument(S("base.img") +
                            ": qcow2 header: magic at offset 0 is 0x72617720, "
                            "not QFI\\xfb"));
}

TEST_F(FileDiskImageCheckerTest, NonRegularFilesAreRefused) {
  std::filesystem::create_directories(S("dir.qcow2"));
  EXPECT_EQ(Check(S("dir.qcow2")),
            PermissionDenied(S("dir.qcow2") + ": is not a regular file"));
  // A FIFO must not stall the check (opened non-blocking).
  ASSERT_EQ(::mkfifo(S("fifo.img").c_str(), 0600), 0);
  EXPECT_EQ(Check(S("fifo.img"), "raw"),
            PermissionDenied(S("fifo.img") + ": is not a regular file"));
  Qcow2(S("top.qcow2"), "fifo.img", "raw");
  EXPECT_EQ(Check(S("top.qcow2")),
            PermissionDenied(S("fifo.img") + ": is not a regular file"));
}

TEST_F(FileDiskImageCheckerTest, NormalizeAbsolutePathFoldsDots) {
  EXPECT_EQ(NormalizeAbsolutePath("/a/./b//c/../d"), "/a/b/d");
  EXPECT_EQ(NormalizeAbsolutePath("/../../etc"), "/etc");
  EXPECT_EQ(NormalizeAbsolutePath("/a/.."), "/");
}

}  // namespace
}  // namespace tvd::libvirt_filter

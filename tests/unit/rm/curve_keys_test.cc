#include "tvd/rm/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tvd::rm {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        "/tmp/tvd-rm-keys-" + std::to_string(::getpid()) + "-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CurveKeys, KeygenWritesFilesThatLoadBack) {
  TempDir dir;
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  const std::string prefix = dir.path() + "/agent";
  ASSERT_TRUE(WriteKeyPairFiles(prefix, *pair).ok());
  struct stat st {};
  ASSERT_EQ(::stat((prefix + ".secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  StatusOr<CurveKeyPair> loaded = LoadKeyPair(prefix);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->public_z85, pair->public_z85);
  EXPECT_TRUE(loaded->secret.Equals(pair->secret.view()));
  // Never overwrites.
  EXPECT_EQ(WriteKeyPairFiles(prefix, *pair).code(), ErrorCode::kAlreadyExists);
}

TEST(CurveKeys, ReadableSecretFileIsRefused) {
  TempDir dir;
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  const std::string prefix = dir.path() + "/agent";
  ASSERT_TRUE(WriteKeyPairFiles(prefix, *pair).ok());
  ASSERT_EQ(::chmod((prefix + ".secret").c_str(), 0640), 0);
  EXPECT_EQ(LoadKeyPair(prefix).status(),
            PermissionDenied(prefix +
                             ".secret: secret key file is accessible by group "
                             "or others (chmod 600)"));
}

TEST(CurveKeys, MismatchedPublicKeyIsRefused) {
  TempDir dir;
  StatusOr<CurveKeyPair> a = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> b = GenerateCurveKeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string prefix = dir.path() + "/agent";
  ASSERT_TRUE(WriteKeyPairFiles(prefix, *a).ok());
  std::filesystem::remove(prefix + ".pub");
  std::ofstream(prefix + ".pub") << b->public_z85 << "\n";
  EXPECT_EQ(LoadKeyPair(prefix).status(),
            InvalidArgument(prefix +
                            ".pub: public key does not match the secret key"));
}

// '#' is a Z85 character; a key containing it is not cut as a comment.
TEST(CurveKeys, AllowListKeyWithHashIsNotAComment) {
  std::string key;
  for (int i = 0; i < 10000 && key.find('#') == std::string::npos; ++i) {
    StatusOr<CurveKeyPair> k = GenerateCurveKeyPair();
    ASSERT_TRUE(k.ok());
    key = k->public_z85;
  }
  ASSERT_NE(key.find('#'), std::string::npos);
  StatusOr<AllowList> list =
      ParseAllowList("# hosts\n" + key + " h # note\n#\n", "f");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(key), "h");
}

TEST(CurveKeys, Z85Errors) {
  EXPECT_EQ(KeyFromZ85("abc").status(),
            InvalidArgument("CURVE key: expected 40 Z85 characters, got 3"));
  EXPECT_EQ(KeyFromZ85(std::string(39, 'a') + "\"").status(),
            InvalidArgument("CURVE key: not a Z85 character"));
}

TEST(CurveKeys, AllowListParsing) {
  StatusOr<CurveKeyPair> a = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> b = GenerateCurveKeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  StatusOr<AllowList> list =
      ParseAllowList("# agents\n" + a->public_z85 + " host-a\n\n" +
                         b->public_z85 + "   host-b  # rack 2\n",
                     "agents.list");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at(a->public_z85), "host-a");
  EXPECT_EQ(ParseAllowList(a->public_z85 + "\n", "f").status(),
            InvalidArgument("f:1: missing name"));
  EXPECT_EQ(
      ParseAllowList("short host\n", "f").status(),
      InvalidArgument("f:1: CURVE key: expected 40 Z85 characters, got 5"));
  EXPECT_EQ(ParseAllowList(a->public_z85 + " h\n" + a->public_z85 + " g\n", "f")
                .status(),
            InvalidArgument("f:2: duplicate key"));
  EXPECT_EQ(ParseAllowList(a->public_z85 + " h\n" + b->public_z85 + " h\n", "f")
                .status(),
            InvalidArgument("f:2: duplicate name 'h'"));
  EXPECT_EQ(ParseAllowList(a->public_z85 + " h x\n", "f").status(),
            InvalidArgument("f:1: unexpected text after the name"));
}

}  // namespace
}  // namespace tvd::rm

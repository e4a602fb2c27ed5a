#include "tvd/master/key_wrap.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

namespace tvd::master {
namespace {

constexpr std::size_t kIv = 12;
constexpr std::size_t kTag = 16;

// The purpose and the row a wrapped key belongs to, each NUL-terminated:
// a wrapped key copied to another row or used for another purpose does
// not unwrap.
std::vector<std::uint8_t> Aad(std::string_view purpose, std::string_view tvd,
                              std::string_view which) {
  std::vector<std::uint8_t> aad;
  for (std::string_view part : {purpose, tvd, which}) {
    aad.insert(aad.end(), part.begin(), part.end());
    aad.push_back(0);
  }
  return aad;
}

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

StatusOr<SecureBytes> LoadKek(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoError("KEK file " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("KEK file " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("KEK file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied("KEK file " + path + " has mode " + mode +
                            "; it must not be readable by group or others");
  }
  SecureBytes kek(kKekSize + 1);
  ssize_t n = ::read(fd, kek.data(), kek.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError("KEK file " + path, err);
  if (static_cast<std::size_t>(n) != kKekSize) {
    return InvalidArgument("KEK file " + path + " holds " + std::to_string(n) +
                           (n > 32 ? "+" : "") + " bytes, expected 32");
  }
  return SecureBytes(std::span<const std::uint8_t>(kek.data(), kKekSize));
}

namespace {

std::vector<std::uint8_t> Wrap(const SecureBytes& kek,
                               const std::vector<std::uint8_t>& aad,
                               const SecureBytes& key) {
  std::vector<std::uint8_t> out(kIv + key.size() + kTag);
  if (RAND_bytes(out.data(), kIv) != 1) std::abort();  // never a weak IV
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, kek.data(),
                         out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kIv, &len, key.data(),
                        static_cast<int>(key.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kIv + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          out.data() + kIv + key.size()) != 1) {
    std::abort();  // AES-GCM with valid sizes does not fail
  }
  return out;
}

StatusOr<SecureBytes> Unwrap(const SecureBytes& kek,
                             const std::vector<std::uint8_t>& aad,
                             std::span<const std::uint8_t> wrapped,
                             const Status& refused) {
  if (wrapped.size() <= kIv + kTag || kek.size() != kKekSize) return refused;
  std::size_t n = wrapped.size() - kIv - kTag;
  SecureBytes key(n);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  std::vector<std::uint8_t> tag(wrapped.end() - kTag, wrapped.end());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, kek.data(),
                         wrapped.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), key.data(), &len, wrapped.data() + kIv,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), key.data() + len, &len) != 1) {
    return refused;
  }
  return key;
}

}  // namespace

namespace {

// A key that belongs to one VM of one TVD (its disk key, its vTPM state
// key), wrapped with `label` in the AAD so that one kind never unwraps as
// the other. `what` names the kind in the error.
std::vector<std::uint8_t> WrapVmKey(const char* label, const SecureBytes& kek,
                                    std::string_view tvd, std::string_view vm,
                                    const SecureBytes& key) {
  return Wrap(kek, Aad(label, tvd, vm), key);
}

StatusOr<SecureBytes> UnwrapVmKey(const char* label, const char* what,
                                  const SecureBytes& kek, std::string_view tvd,
                                  std::string_view vm,
                                  std::span<const std::uint8_t> wrapped) {
  return Unwrap(
      kek, Aad(label, tvd, vm), wrapped,
      Unauthenticated(std::string(what) + " of " + std::string(tvd) + "/" +
                      std::string(vm) +
                      " does not unwrap (wrong KEK or tampered row)"));
}

}  // namespace

std::vector<std::uint8_t> WrapDiskKey(const SecureBytes& kek,
                                      std::string_view tvd, std::string_view vm,
                                      const SecureBytes& key) {
  return WrapVmKey("tvd-disk-key", kek, tvd, vm, key);
}

StatusOr<SecureBytes> UnwrapDiskKey(const SecureBytes& kek,
                                    std::string_view tvd, std::string_view vm,
                                    std::span<const std::uint8_t> wrapped) {
  return UnwrapVmKey("tvd-disk-key", "disk key", kek, tvd, vm, wrapped);
}

std::vector<std::uint8_t> WrapVtpmKey(const SecureBytes& kek,
                                      std::string_view tvd, std::string_view vm,
                                      const SecureBytes& key) {
  return WrapVmKey("tvd-vtpm-key", kek, tvd, vm, key);
}

StatusOr<SecureBytes> UnwrapVtpmKey(const SecureBytes& kek,
                                    std::string_view tvd, std::string_view vm,
                                    std::span<const std::uint8_t> wrapped) {
  return UnwrapVmKey("tvd-vtpm-key", "vTPM key", kek, tvd, vm, wrapped);
}

std::vector<std::uint8_t> WrapTvdKey(const SecureBytes& kek,
                                     std::string_view tvd, std::uint64_t epoch,
                                     const SecureBytes& key) {
  return Wrap(kek, Aad("tvd-epoch-key", tvd, std::to_string(epoch)), key);
}

StatusOr<SecureBytes> UnwrapTvdKey(const SecureBytes& kek, std::string_view tvd,
                                   std::uint64_t epoch,
                                   std::span<const std::uint8_t> wrapped) {
  return Unwrap(
      kek, Aad("tvd-epoch-key", tvd, std::to_string(epoch)), wrapped,
      Unauthenticated("key of TVD " + std::string(tvd) + " epoch " +
                      std::to_string(epoch) +
                      " does not unwrap (wrong KEK or tampered row)"));
}

}  // namespace tvd::master

#include "tvd/rm/curve_keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

namespace tvd::rm {

namespace {

bool IsZ85Char(char c) {
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
      ".-:+=^!/*?&<>()[]{}@%$#";
  return kAlphabet.find(c) != std::string_view::npos;
}

// Reads at most 4 KiB; key files are tiny.
StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  std::string data(4096, '\0');
  ssize_t n = ::read(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError("read " + path, err);
  data.resize(static_cast<std::size_t>(n));
  return data;
}

std::string_view TrimKeyText(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

Status WriteNewFile(const std::string& path, std::string_view text,
                    mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists(path + ": already exists");
    return ErrnoError("create " + path, errno);
  }
  // Every step's failure counts (a failed close can lose the data): the
  // first one is reported and the half-made file removed.
  Status s;
  const ssize_t n = ::write(fd, text.data(), text.size());
  if (n < 0) {
    s = ErrnoError("write " + path, errno);
  } else if (n != static_cast<ssize_t>(text.size())) {
    s = IoError("write " + path + ": short write");
  } else if (::fchmod(fd, mode) != 0) {
    s = ErrnoError("chmod " + path, errno);
  }
  if (::close(fd) != 0 && s.ok()) s = ErrnoError("close " + path, errno);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

}  // namespace

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[kCurveZ85Chars + 1] = {};
  char sec[kCurveZ85Chars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return ErrnoError("zmq_curve_keypair", zmq_errno());
  }
  CurveKeyPair pair;
  pair.public_z85 = pub;
  StatusOr<SecureBytes> secret =
      KeyFromZ85(std::string_view(sec, kCurveZ85Chars));
  OPENSSL_cleanse(sec, sizeof sec);
  if (!secret.ok()) return secret.status();
  pair.secret = std::move(secret).value();
  return pair;
}

std::string Z85FromKey(const std::uint8_t* key32) {
  char out[kCurveZ85Chars + 1] = {};
  zmq_z85_encode(out, key32, kCurveKeyBytes);
  return std::string(out, kCurveZ85Chars);
}

StatusOr<SecureBytes> KeyFromZ85(std::string_view z85) {
  if (z85.size() != kCurveZ85Chars) {
    return InvalidArgument("CURVE key: expected 40 Z85 characters, got " +
                           std::to_string(z85.size()));
  }
  for (char c : z85) {
    if (!IsZ85Char(c)) {
      return InvalidArgument("CURVE key: not a Z85 character");
    }
  }
  char text[kCurveZ85Chars + 1] = {};
  std::copy(z85.begin(), z85.end(), text);
  SecureBytes key(kCurveKeyBytes);
  bool ok = zmq_z85_decode(key.data(), text) != nullptr;
  OPENSSL_cleanse(text, sizeof text);
  if (!ok) return InvalidArgument("CURVE key: invalid Z85 text");
  return key;
}

Status WriteKeyPairFiles(const std::string& prefix, const CurveKeyPair& pair) {
  const std::string secret_path = prefix + ".secret";
  const std::string public_path = prefix + ".pub";
  if (::access(secret_path.c_str(), F_OK) == 0) {
    return AlreadyExists(secret_path + ": already exists");
  }
  if (::access(public_path.c_str(), F_OK) == 0) {
    return AlreadyExists(public_path + ": already exists");
  }
  std::string secret_text = Z85FromKey(pair.secret.data()) + "\n";
  Status s = WriteNewFile(secret_path, secret_text, 0600);
  OPENSSL_cleanse(secret_text.data(), secret_text.size());
  TVD_RETURN_IF_ERROR(s);
  s = WriteNewFile(public_path, pair.public_z85 + "\n", 0644);
  if (!s.ok()) ::unlink(secret_path.c_str());
  return s;
}

StatusOr<std::string> LoadPublicKeyFile(const std::string& path) {
  TVD_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  std::string_view z85 = TrimKeyText(text);
  StatusOr<SecureBytes> key = KeyFromZ85(z85);
  if (!key.ok()) return key.status().WithContext(path);
  return std::string(z85);
}

StatusOr<CurveKeyPair> LoadKeyPair(const std::string& prefix) {
  const std::string secret_path = prefix + ".secret";
  struct stat st {};
  if (::stat(secret_path.c_str(), &st) != 0) {
    return ErrnoError("stat " + secret_path, errno);
  }
  if ((st.st_mode & 077) != 0) {
    return PermissionDenied(secret_path +
                            ": secret key file is accessible by group or "
                            "others (chmod 600)");
  }
  CurveKeyPair pair;
  TVD_ASSIGN_OR_RETURN(pair.public_z85, LoadPublicKeyFile(prefix + ".pub"));
  TVD_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(secret_path));
  StatusOr<SecureBytes> secret = KeyFromZ85(TrimKeyText(text));
  OPENSSL_cleanse(text.data(), text.size());
  if (!secret.ok()) return secret.status().WithContext(secret_path);
  pair.secret = std::move(secret).value();
  // The public key must belong to the secret key.
  char pub[kCurveZ85Chars + 1] = {};
  std::string sec_z85 = Z85FromKey(pair.secret.data());
  int rc = zmq_curve_public(pub, sec_z85.c_str());
  OPENSSL_cleanse(sec_z85.data(), sec_z85.size());
  if (rc != 0) return ErrnoError("zmq_curve_public", zmq_errno());
  if (pair.public_z85 != pub) {
    return InvalidArgument(prefix +
                           ".pub: public key does not match the secret key");
  }
  return pair;
}

StatusOr<AllowList> ParseAllowList(std::string_view text,
                                   std::string_view source) {
  AllowList list;
  std::set<std::string> names;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where =
        std::string(source) + ":" + std::to_string(line_no);
    // '#' is also a Z85 character: a comment is a '#' that stands alone
    // (followed by whitespace or the end of the line), which a key cannot.
    for (std::size_t i = 0; i < line.size(); ++i) {
      const bool alone_before =
          i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t';
      const bool alone_after =
          i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t';
      if (line[i] == '#' && alone_before && alone_after) {
        line.resize(i);
        break;
      }
    }
    std::istringstream fields(line);
    std::string key, name, extra;
    if (!(fields >> key)) continue;
    if (!(fields >> name)) return InvalidArgument(where + ": missing name");
    if (fields >> extra) {
      return InvalidArgument(where + ": unexpected text after the name");
    }
    if (StatusOr<SecureBytes> k = KeyFromZ85(key); !k.ok()) {
      return InvalidArgument(where + ": " + k.status().message());
    }
    if (name.size() > 253) return InvalidArgument(where + ": name too long");
    if (list.contains(key)) return InvalidArgument(where + ": duplicate key");
    if (!names.insert(name).second) {
      return InvalidArgument(where + ": duplicate name '" + name + "'");
    }
    list[key] = name;
  }
  return list;
}

StatusOr<AllowList> LoadAllowList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError("open " + path + ": cannot read");
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseAllowList(buf.str(), path);
}

}  // namespace tvd::rm

// CURVE key pairs and allow-lists for rm-agent, rm-server and admins.
//
// Key files hold Z85 text (40 characters, optional trailing newline):
//   NAME.pub     the public key, mode 0644
//   NAME.secret  the secret key, mode 0600; refused when group or others
//                may read it
// Secret keys live in memory only as SecureBytes (32 raw bytes), wiped when
// released, and are never logged.
//
// Allow-list files: one "<Z85 public key> <name>" per line; a '#' standing
// alone ("# text", at the line start or after whitespace) starts a comment
// ('#' is also a Z85 character, so "#abc..." is a key); blank lines are
// ignored. For agents the name is the host name the key speaks for (an agent
// cannot claim another host); for admins it is a label for the logs. A key
// may appear once; a name once.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::rm {

inline constexpr std::size_t kCurveKeyBytes = 32;
inline constexpr std::size_t kCurveZ85Chars = 40;

struct CurveKeyPair {
  std::string public_z85;
  SecureBytes secret;  // 32 raw bytes

  CurveKeyPair Clone() const {
    return CurveKeyPair{public_z85, secret.Clone()};
  }
};

// A fresh key pair from libzmq (libsodium/tweetnacl CSPRNG).
StatusOr<CurveKeyPair> GenerateCurveKeyPair();

// Raw 32 bytes <-> Z85. Decoding fails with InvalidArgument on anything but
// 40 Z85 characters.
std::string Z85FromKey(const std::uint8_t* key32);
StatusOr<SecureBytes> KeyFromZ85(std::string_view z85);

// Writes PREFIX.pub and PREFIX.secret (created with mode 0600, never
// replacing an existing file: AlreadyExists).
Status WriteKeyPairFiles(const std::string& prefix, const CurveKeyPair& pair);

// Reads a public key file; returns its Z85 text.
StatusOr<std::string> LoadPublicKeyFile(const std::string& path);
// Reads a secret key file (mode must not give group/others any access:
// PermissionDenied otherwise) and its public key from PREFIX.pub.
StatusOr<CurveKeyPair> LoadKeyPair(const std::string& prefix);

// Public key (Z85) -> name.
using AllowList = std::map<std::string, std::string>;
// Errors: "PATH:LINE: why" as InvalidArgument, IoError when unreadable.
StatusOr<AllowList> LoadAllowList(const std::string& path);
StatusOr<AllowList> ParseAllowList(std::string_view text,
                                   std::string_view source);

}  // namespace tvd::rm

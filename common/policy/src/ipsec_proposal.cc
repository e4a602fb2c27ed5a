#include "tvd/policy/ipsec_proposal.h"

#include <algorithm>
#include <array>
#include <set>

#include "element_reader.h"

namespace tvd::policy {

namespace {

enum class TokenClass { kAeadCipher, kCipher, kIntegrity, kPrf, kGroup, kEsn };

struct Token {
  std::string_view name;
  TokenClass cls;
};

constexpr std::array kTokens = {
    Token{"aes128gcm16", TokenClass::kAeadCipher},
    Token{"aes192gcm16", TokenClass::kAeadCipher},
    Token{"aes256gcm16", TokenClass::kAeadCipher},
    Token{"aes128ccm16", TokenClass::kAeadCipher},
    Token{"aes256ccm16", TokenClass::kAeadCipher},
    Token{"chacha20poly1305", TokenClass::kAeadCipher},
    Token{"aes128", TokenClass::kCipher},
    Token{"aes192", TokenClass::kCipher},
    Token{"aes256", TokenClass::kCipher},
    Token{"aes128ctr", TokenClass::kCipher},
    Token{"aes256ctr", TokenClass::kCipher},
    Token{"sha256", TokenClass::kIntegrity},
    Token{"sha384", TokenClass::kIntegrity},
    Token{"sha512", TokenClass::kIntegrity},
    Token{"prfsha256", TokenClass::kPrf},
    Token{"prfsha384", TokenClass::kPrf},
    Token{"prfsha512", TokenClass::kPrf},
    Token{"ecp256", TokenClass::kGroup},
    Token{"ecp384", TokenClass::kGroup},
    Token{"ecp521", TokenClass::kGroup},
    Token{"curve25519", TokenClass::kGroup},
    Token{"x25519", TokenClass::kGroup},
    Token{"curve448", TokenClass::kGroup},
    Token{"x448", TokenClass::kGroup},
    Token{"modp3072", TokenClass::kGroup},
    Token{"modp4096", TokenClass::kGroup},
    Token{"esn", TokenClass::kEsn},
    Token{"noesn", TokenClass::kEsn},
};

}  // namespace

Status CheckIpsecProposal(std::string_view proposal, ProposalKind kind) {
  if (proposal.empty()) return InvalidArgument("empty proposal");
  int aead = 0, cipher = 0, integ = 0, prf = 0, group = 0;
  std::set<std::string_view> seen;
  std::size_t start = 0;
  while (start <= proposal.size()) {
    std::size_t end = proposal.find('-', start);
    if (end == std::string_view::npos) end = proposal.size();
    const std::string_view tok = proposal.substr(start, end - start);
    if (tok.empty()) return InvalidArgument("empty algorithm token");
    const auto it = std::find_if(kTokens.begin(), kTokens.end(),
                                 [&](const Token& t) { return t.name == tok; });
    if (it == kTokens.end()) {
      return InvalidArgument("unknown or disallowed algorithm " +
                             internal::Quote(tok));
    }
    if (!seen.insert(tok).second) {
      return InvalidArgument("algorithm " + internal::Quote(tok) +
                             " listed twice");
    }
    switch (it->cls) {
      case TokenClass::kAeadCipher:
        ++aead;
        break;
      case TokenClass::kCipher:
        ++cipher;
        break;
      case TokenClass::kIntegrity:
        ++integ;
        break;
      case TokenClass::kPrf:
        if (kind == ProposalKind::kEsp) {
          return InvalidArgument("PRF " + internal::Quote(tok) +
                                 " does not belong in an ESP proposal");
        }
        ++prf;
        break;
      case TokenClass::kGroup:
        ++group;
        break;
      case TokenClass::kEsn:
        if (kind == ProposalKind::kIke) {
          return InvalidArgument(internal::Quote(tok) +
                                 " does not belong in an IKE proposal");
        }
        break;
    }
    start = end + 1;
  }
  if (aead + cipher == 0) {
    return InvalidArgument("missing encryption algorithm");
  }
  if (aead > 0 && cipher > 0) {
    return InvalidArgument("AEAD and non-AEAD encryption cannot be mixed");
  }
  if (cipher > 0 && integ == 0) {
    return InvalidArgument("missing integrity algorithm for non-AEAD cipher");
  }
  if (aead > 0 && integ > 0 && kind == ProposalKind::kEsp) {
    return InvalidArgument("integrity algorithm with an AEAD cipher");
  }
  if (kind == ProposalKind::kIke) {
    if (aead > 0 && prf == 0) {
      return InvalidArgument("missing PRF for AEAD cipher");
    }
    if (group == 0) return InvalidArgument("missing key-exchange group");
  }
  return Status::Ok();
}

}  // namespace tvd::policy

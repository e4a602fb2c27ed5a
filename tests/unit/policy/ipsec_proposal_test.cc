#include "tvd/policy/ipsec_proposal.h"

#include <gtest/gtest.h>

namespace tvd::policy {
namespace {

std::string IkeError(std::string_view p) {
  return CheckIpsecProposal(p, ProposalKind::kIke).message();
}
std::string EspError(std::string_view p) {
  return CheckIpsecProposal(p, ProposalKind::kEsp).message();
}

TEST(IpsecProposalTest, AcceptsStrongProposals) {
  EXPECT_TRUE(
      CheckIpsecProposal("aes256gcm16-prfsha256-ecp256", ProposalKind::kIke)
          .ok());
  EXPECT_TRUE(
      CheckIpsecProposal("aes256-sha256-curve25519", ProposalKind::kIke).ok());
  EXPECT_TRUE(CheckIpsecProposal("aes256-sha384-prfsha384-ecp384-modp3072",
                                 ProposalKind::kIke)
                  .ok());
  EXPECT_TRUE(
      CheckIpsecProposal("aes256gcm16-ecp256", ProposalKind::kEsp).ok());
  EXPECT_TRUE(CheckIpsecProposal("aes256gcm16", ProposalKind::kEsp).ok());
  EXPECT_TRUE(
      CheckIpsecProposal("aes128-sha256-noesn", ProposalKind::kEsp).ok());
  EXPECT_TRUE(CheckIpsecProposal("chacha20poly1305-prfsha512-x25519",
                                 ProposalKind::kIke)
                  .ok());
}

TEST(IpsecProposalTest, RefusesWeakOrMalformedProposals) {
  EXPECT_EQ(IkeError(""), "empty proposal");
  EXPECT_EQ(IkeError("aes256-sha1-modp2048"),
            "unknown or disallowed algorithm 'sha1'");
  EXPECT_EQ(IkeError("3des-sha256-ecp256"),
            "unknown or disallowed algorithm '3des'");
  EXPECT_EQ(IkeError("aes256--ecp256"), "empty algorithm token");
  EXPECT_EQ(IkeError("aes256gcm16-prfsha256-ecp256-"), "empty algorithm token");
  EXPECT_EQ(IkeError("aes256gcm16-prfsha256-ecp256-ecp256"),
            "algorithm 'ecp256' listed twice");
  EXPECT_EQ(IkeError("prfsha256-ecp256"), "missing encryption algorithm");
  EXPECT_EQ(IkeError("aes256-prfsha256-ecp256"),
            "missing integrity algorithm for non-AEAD cipher");
  EXPECT_EQ(IkeError("aes256gcm16-ecp256"), "missing PRF for AEAD cipher");
  EXPECT_EQ(IkeError("aes256gcm16-prfsha256"), "missing key-exchange group");
  EXPECT_EQ(IkeError("aes256gcm16-aes256-sha256-prfsha256-ecp256"),
            "AEAD and non-AEAD encryption cannot be mixed");
  EXPECT_EQ(IkeError("aes256gcm16-prfsha256-ecp256-esn"),
            "'esn' does not belong in an IKE proposal");
  EXPECT_EQ(EspError("aes256gcm16-prfsha256"),
            "PRF 'prfsha256' does not belong in an ESP proposal");
  EXPECT_EQ(EspError("aes256gcm16-sha256"),
            "integrity algorithm with an AEAD cipher");
  EXPECT_EQ(EspError("aes256"),
            "missing integrity algorithm for non-AEAD cipher");
  EXPECT_EQ(EspError("null-sha256"), "unknown or disallowed algorithm 'null'");
  EXPECT_EQ(EspError("AES256GCM16"),
            "unknown or disallowed algorithm 'AES256GCM16'");
}

}  // namespace
}  // namespace tvd::policy

// PerCallTpm opens the TPM for each call and closes it before returning, so
// proxies sharing a one-connection TPM take turns.
#include "tvd/proxy/per_call_tpm.h"

#include <gtest/gtest.h>

namespace tvd::proxy {
namespace {

// Counts how many are open at once and what was asked.
struct Counters {
  int opened = 0;
  int open_now = 0;
  int max_open = 0;
};

class CountingTpm : public attest::Tpm {
 public:
  explicit CountingTpm(Counters& c) : c_(c) {
    ++c_.opened;
    c_.max_open = std::max(c_.max_open, ++c_.open_now);
  }
  ~CountingTpm() override { --c_.open_now; }
  StatusOr<std::vector<std::uint8_t>> EkPublic() override {
    return std::vector<std::uint8_t>{1, static_cast<std::uint8_t>(c_.open_now)};
  }
  StatusOr<std::vector<std::uint8_t>> AkPublic() override {
    return std::vector<std::uint8_t>{2};
  }
  StatusOr<SecureBytes> ActivateCredential(
      const attest::CredentialChallenge&) override {
    return PermissionDenied("wrong AK");
  }
  StatusOr<attest::QuoteOutput> Quote(std::span<const std::uint32_t>,
                                      const Sha256Digest&) override {
    return attest::QuoteOutput{{3}, {4}};
  }
  StatusOr<std::vector<attest::PcrValue>> ReadPcrs(
      std::span<const std::uint32_t> pcrs) override {
    return std::vector<attest::PcrValue>{{pcrs[0], {}}};
  }

 private:
  Counters& c_;
};

TEST(PerCallTpmTest, EachCallOpensAndClosesTheTpm) {
  Counters c;
  PerCallTpm tpm([&c]() -> StatusOr<std::unique_ptr<attest::Tpm>> {
    return std::unique_ptr<attest::Tpm>(new CountingTpm(c));
  });
  EXPECT_EQ(c.opened, 0);  // nothing held before the first call
  auto ek = tpm.EkPublic();
  ASSERT_TRUE(ek.ok());
  EXPECT_EQ(*ek, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(*tpm.AkPublic(), std::vector<std::uint8_t>{2});
  std::uint32_t pcr = 16;
  EXPECT_EQ((*tpm.ReadPcrs({&pcr, 1}))[0].index, 16u);
  EXPECT_EQ(tpm.Quote({&pcr, 1}, Sha256Digest{})->attest,
            std::vector<std::uint8_t>{3});
  // The TPM's own refusal comes back as it was.
  EXPECT_EQ(tpm.ActivateCredential({}).status(), PermissionDenied("wrong AK"));
  EXPECT_EQ(c.opened, 5);
  EXPECT_EQ(c.open_now, 0);  // closed after every call
  EXPECT_EQ(c.max_open, 1);
}

TEST(PerCallTpmTest, AnUnreachableTpmIsTheCallsError) {
  PerCallTpm tpm([]() -> StatusOr<std::unique_ptr<attest::Tpm>> {
    return Unavailable("cannot open TCTI 'swtpm:port=1'");
  });
  EXPECT_EQ(tpm.AkPublic().status(),
            Unavailable("cannot open TCTI 'swtpm:port=1'"));
  std::uint32_t pcr = 0;
  EXPECT_EQ(tpm.Quote({&pcr, 1}, Sha256Digest{}).status(),
            Unavailable("cannot open TCTI 'swtpm:port=1'"));
}

}  // namespace
}  // namespace tvd::proxy

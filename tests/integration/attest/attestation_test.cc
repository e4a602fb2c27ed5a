// Hosts with a real swtpm attest to a test master over the trusted channel;
// every kind of bad client is refused with its own reason while the master
// keeps serving good hosts.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/attest/event_log_builder.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/channel/channel_client.h"
#include "tvd/channel/wire.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/testing/attest_test_master.h"
#include "tvd/testing/swtpm.h"

namespace tvd::attest {
namespace {

using channel::Connection;
using channel::ConnectionPtr;
using channel::MessageType;
using channel::TlsContext;
using channel::TlsCredentials;
using channel::TlsSide;
using std::chrono::milliseconds;

constexpr milliseconds kHandshakeTimeout{500};
constexpr milliseconds kReadTimeout{1500};
constexpr milliseconds kWait{5000};
constexpr int kImaEntries = 20;
constexpr int kLaterEntries = 8;
// A host up for months (LongImaLogIsSentInChunksThenIncrementally). The
// sanitizer builds parse and replay several times slower than the suite's
// 1.5 s read timeout allows for 19 MB: they run the same path (many chunk
// frames, a full then an incremental replay) with a fifth of the entries.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TVD_TEST_SANITIZED 1
#endif
#endif
#ifdef TVD_TEST_SANITIZED
constexpr int kLongLogEntries = 20000;
#else
constexpr int kLongLogEntries = 100000;
#endif

std::string LongLogPath(int i) {
  return "/usr/lib/x86_64-linux-gnu/lib" + std::to_string(i) + ".so.1";
}

std::string LaterPath(int i) { return "/usr/lib/later" + std::to_string(i); }

TlsCredentials Credentials(const pki::KeyAndCertificate& ca,
                           const pki::KeyAndCertificate& own) {
  return {ca.cert_pem, own.cert_pem, own.key_pem.Clone()};
}

class AttestationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = pki::CreateCa("vdc-test", pki::Validity::ForDays(1));
    ASSERT_TRUE(ca.ok());
    ca_ = new pki::KeyAndCertificate(std::move(*ca));
    auto issue = [](const pki::KeyAndCertificate& by, pki::Role role,
                    const std::string& name, pki::Validity v) {
      auto c = pki::IssueCertificate(by, role, name, v);
      EXPECT_TRUE(c.ok()) << c.status().ToString();
      return new TlsContextPtrHolder(Credentials(*ca_, *c));
    };
    auto day = pki::Validity::ForDays(1);
    auto now = std::chrono::system_clock::now();
    node1_ = issue(*ca_, pki::Role::kHost, "node1", day);
    notpm_ = issue(*ca_, pki::Role::kHost, "notpm-ok", day);
    ecc_host_ = issue(*ca_, pki::Role::kHost, "node-ecc", day);
    mb_host_ = issue(*ca_, pki::Role::kHost, "node-mb", day);
    long_log_host_ = issue(*ca_, pki::Role::kHost, "node-long", day);
    auto other_ca = pki::CreateCa("vdc-other", day);
    ASSERT_TRUE(other_ca.ok());
    foreign_ = issue(*other_ca, pki::Role::kHost, "node1", day);
    expired_ =
        issue(*ca_, pki::Role::kHost, "node1",
              {now - std::chrono::hours(48), now - std::chrono::hours(1)});

    auto swtpm = testing::SwtpmInstance::Start();
    ASSERT_TRUE(swtpm.ok()) << swtpm.status().ToString();
    swtpm_ = swtpm->release();
    auto tpm = swtpm_->Open();
    ASSERT_TRUE(tpm.ok()) << tpm.status().ToString();
    tpm_ = tpm->release();

    // The host's IMA log: written by the test, and PCR 10 extended to match.
    // Its first entry is the boot_aggregate of the swtpm's PCRs 0-9, as the
    // kernel computes it at boot.
    char tmpl[] = "/tmp/tvd-attest-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    std::vector<std::uint32_t> boot_indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    auto boot_values = tpm_->ReadPcrs(boot_indices);
    ASSERT_TRUE(boot_values.ok()) << boot_values.status().ToString();
    BootPcrs boot{};
    for (const PcrValue& v : *boot_values) boot[v.index] = v.value;
    ImaAllowlist allowlist;
    std::string log;
    std::vector<Sha256Digest> extends;
    for (int i = 0; i < kImaEntries; ++i) {
      std::string path =
          i == 0 ? "boot_aggregate" : "/usr/bin/tool" + std::to_string(i);
      Sha256Digest file =
          i == 0 ? BootAggregate(boot) : Sha256(path + " contents");
      ImaLine line = MakeImaNgLine(path, file, /*sha256_column=*/i % 2 == 0);
      log += line.text + "\n";
      extends.push_back(line.template_sha256);
      if (i != 0) allowlist.Allow(path, file);
    }
    // Files the host measures later (SecondQuoteSendsOnlyNewEntries).
    for (int i = 0; i < kLaterEntries; ++i) {
      allowlist.Allow(LaterPath(i), Sha256(LaterPath(i) + " contents"));
    }
    WriteFile(*dir_ + "/ima.log", log);

    for (const Sha256Digest& d : extends)
      ASSERT_TRUE(tpm_->ExtendPcr(10, d).ok());
    attester_ = new Attester(tpm_, {*dir_ + "/ima.log"});

    TcbRequirements req;
    req.pcrs.push_back({0, {Sha256Digest{}}});
    req.pcrs.push_back({16, {Sha256Digest{}}});
    req.ima = allowlist;
    node1_allowlist_ = allowlist.fingerprint();
    req.interval = milliseconds(200);
    testing::TestMasterOptions options;
    options.server.handshake_timeout = kHandshakeTimeout;
    options.timeouts.read = kReadTimeout;
    options.default_requirements = req;
    TcbRequirements no_tpm;
    no_tpm.allow_no_tpm = true;
    no_tpm.interval = std::chrono::seconds(60);
    options.requirements_by_name["notpm-ok"] = no_tpm;
    TcbRequirements long_log = req;
    ImaAllowlist long_list;
    for (int i = 1; i < kLongLogEntries; ++i) {
      long_list.Allow(LongLogPath(i), Sha256(LongLogPath(i)));
    }
    long_log.ima = std::move(long_list);
    options.requirements_by_name["node-long"] = std::move(long_log);
    // node-mb: PCRs 0-7 judged by its UEFI event log (MeasuredBoot tests).
    TcbRequirements measured_boot;
    measured_boot.measured_boot = MakeTypicalBoot("node-mb").policy;
    measured_boot.interval = std::chrono::seconds(60);
    options.requirements_by_name["node-mb"] = std::move(measured_boot);
    auto master_creds =
        pki::IssueCertificate(*ca_, pki::Role::kHost, "tvd-master", day);
    ASSERT_TRUE(master_creds.ok());
    auto master =
        testing::TestMaster::Start(options, Credentials(*ca_, *master_creds));
    ASSERT_TRUE(master.ok()) << master.status().ToString();
    master_ = master->release();

    // Enrol node1's AK once: trust its EK, then MakeCredential /
    // ActivateCredential over the channel.
    auto ek = tpm_->EkPublic();
    ASSERT_TRUE(ek.ok());
    master_->enroller().TrustEk({pki::Role::kHost, "node1"}, Sha256(*ek));
    auto conn = Connect(*node1_);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    Status enrolled = EnrolWithMaster(**conn, *attester_);
    ASSERT_TRUE(enrolled.ok()) << enrolled.ToString();
    Status attested = AttestToMaster(**conn, *attester_);
    ASSERT_TRUE(attested.ok()) << attested.ToString();
  }

  static void TearDownTestSuite() {
    delete master_;
    delete attester_;
    delete tpm_;
    delete swtpm_;
    // Also reached after a failed set-up: everything may be null.
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    for (auto* p : {node1_, notpm_, ecc_host_, mb_host_, long_log_host_,
                    foreign_, expired_}) {
      delete p;
    }
    delete ca_;
  }

  struct TlsContextPtrHolder {
    explicit TlsContextPtrHolder(const TlsCredentials& c) {
      auto ctx = TlsContext::Create(TlsSide::kClient, c);
      EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
      if (ctx.ok()) tls = std::move(*ctx);
    }
    std::unique_ptr<TlsContext> tls;
  };

  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static StatusOr<ConnectionPtr> Connect(const TlsContextPtrHolder& who) {
    channel::ClientOptions options;
    options.expected_peer = pki::Identity{pki::Role::kHost, "tvd-master"};
    return channel::ConnectChannel("127.0.0.1", master_->port(), *who.tls,
                                   options);
  }

  // The master's verdict on the connection whose client end is `conn`.
  static Status ReportFor(const std::string& client_address) {
    auto r = master_->WaitForReport(client_address, kWait);
    if (!r.ok()) return r.status();
    return r->status;
  }

  // A well-behaved host attests successfully, proving the master still
  // serves others.
  static void ExpectGoodHostAttests() {
    auto conn = Connect(*node1_);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    Status s = AttestToMaster(**conn, *attester_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::string address = (*conn)->local_address();
    conn->reset();  // leave
    EXPECT_EQ(ReportFor(address), Status::Ok());
  }

  // Host-side steps, for tests that misbehave on purpose.
  static StatusOr<AttestChallenge> HelloAndChallenge(Connection& conn) {
    TVD_RETURN_IF_ERROR(
        conn.WriteFrame(MessageType::kAttestHello, {}, kReadTimeout));
    TVD_ASSIGN_OR_RETURN(
        auto frame,
        conn.ReadExpected(MessageType::kAttestChallenge, kReadTimeout));
    return DecodeAttestChallenge(frame.payload);
  }
  static Status SendEvidence(Connection& conn, const Evidence& e) {
    TVD_RETURN_IF_ERROR(
        conn.WriteFrame(MessageType::kAttestEvidence, Encode(e), kReadTimeout));
    return conn.ReadExpected(MessageType::kAttestVerdict, kReadTimeout)
        .status();
  }

  // A raw TCP connection to the master; returns fd and its local address.
  static std::pair<int, std::string> RawConnect() {
    auto fd = channel::ConnectTcp("127.0.0.1", master_->port(), kWait);
    EXPECT_TRUE(fd.ok());
    return {*fd, channel::LocalAddressOf(*fd)};
  }

  // IMA measures LaterPath(i): its entry is appended to the host's log and
  // extended into PCR 10. Returns the line added.
  static std::string AppendMeasurement(int i) {
    ImaLine line =
        MakeImaNgLine(LaterPath(i), Sha256(LaterPath(i) + " contents"));
    std::ofstream(*dir_ + "/ima.log", std::ios::binary | std::ios::app)
        << line.text << "\n";
    EXPECT_TRUE(tpm_->ExtendPcr(10, line.template_sha256).ok());
    return line.text + "\n";
  }

  static std::vector<std::string> ImaLines() {
    std::vector<std::string> lines;
    std::string all = ReadFile(*dir_ + "/ima.log");
    std::size_t start = 0;
    for (std::size_t nl; (nl = all.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      lines.push_back(all.substr(start, nl - start));
    }
    return lines;
  }

  static inline pki::KeyAndCertificate* ca_ = nullptr;
  static inline TlsContextPtrHolder* node1_ = nullptr;
  static inline TlsContextPtrHolder* notpm_ = nullptr;
  static inline TlsContextPtrHolder* ecc_host_ = nullptr;
  static inline TlsContextPtrHolder* mb_host_ = nullptr;
  static inline TlsContextPtrHolder* long_log_host_ = nullptr;
  static inline Sha256Digest node1_allowlist_{};  // its fingerprint
  static inline TlsContextPtrHolder* foreign_ = nullptr;
  static inline TlsContextPtrHolder* expired_ = nullptr;
  static inline std::string* dir_ = nullptr;
  static inline testing::SwtpmInstance* swtpm_ = nullptr;
  static inline EsysTpm* tpm_ = nullptr;
  static inline Attester* attester_ = nullptr;
  static inline testing::TestMaster* master_ = nullptr;
};

TEST_F(AttestationTest, HostAttestsAndIsReattestedOnTheSameChannel) {
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ((*conn)->peer().ToString(), "host:tvd-master");
  ASSERT_EQ(AttestToMaster(**conn, *attester_), Status::Ok());
  // Two more rounds at the 200 ms interval, answered on the same channel.
  ASSERT_EQ(ServeReattestation(**conn, *attester_, kWait, 2), Status::Ok());
  std::string address = (*conn)->local_address();
  ASSERT_TRUE(master_->WaitForEvents(address, 2, kWait));
  auto events = master_->EventsFor(address);
  EXPECT_EQ(events[0].round, 2);
  EXPECT_EQ(events[0].status, Status::Ok());
  EXPECT_EQ(events[1].round, 3);
  EXPECT_EQ(events[1].status, Status::Ok());
  EXPECT_EQ(events[0].host.ToString(), "host:node1");
}

TEST_F(AttestationTest, ReattestationFailureIsAnEvent) {
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  ASSERT_EQ(AttestToMaster(**conn, *attester_), Status::Ok());
  // The host's TCB changes after admission.
  Sha256Digest bad = Sha256("unexpected code");
  ASSERT_TRUE(tpm_->ExtendPcr(16, bad).ok());
  Status s = ServeReattestation(**conn, *attester_, kWait);
  Sha256Digest pcr16 = ExtendSha256(Sha256Digest{}, bad);
  std::string reason =
      "PCR 16 value " + ToHex(pcr16) + " is not a known-good value";
  EXPECT_EQ(s, PermissionDenied("peer: " + reason));
  std::string address = (*conn)->local_address();
  ASSERT_TRUE(master_->WaitForEvents(address, 1, kWait));
  EXPECT_EQ(master_->EventsFor(address).back().status,
            PermissionDenied(reason));
  EXPECT_EQ(ReportFor(address), PermissionDenied(reason));
  ASSERT_TRUE(tpm_->ResetPcr(16).ok());
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, QuoteRelayedFromAnotherSessionIsRefused) {
  auto victim = Connect(*node1_);  // the session the relayed quote binds to
  auto relay = Connect(*node1_);
  ASSERT_TRUE(victim.ok() && relay.ok());
  auto challenge = HelloAndChallenge(**relay);
  ASSERT_TRUE(challenge.ok()) << challenge.status().ToString();
  auto evidence = attester_->Answer(*challenge, (*victim)->channel_binding());
  ASSERT_TRUE(evidence.ok());
  const std::string reason =
      "quote is not bound to this nonce and TLS session (relayed from another "
      "session?)";
  EXPECT_EQ(SendEvidence(**relay, *evidence),
            Unauthenticated("peer: " + reason));
  EXPECT_EQ(ReportFor((*relay)->local_address()), Unauthenticated(reason));
  victim->reset();
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, ReplayedNonceIsRefused) {
  auto first = Connect(*node1_);
  ASSERT_TRUE(first.ok());
  auto challenge = HelloAndChallenge(**first);
  ASSERT_TRUE(challenge.ok());
  auto evidence = attester_->Answer(*challenge, (*first)->channel_binding());
  ASSERT_TRUE(evidence.ok());
  ASSERT_EQ(SendEvidence(**first, *evidence), Status::Ok());

  // The same evidence again, on the same channel, to the next challenge.
  auto next = (*first)->ReadExpected(MessageType::kAttestChallenge, kWait);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(SendEvidence(**first, *evidence),
            Unauthenticated("peer: nonce replayed: it was already used"));
  EXPECT_EQ(ReportFor((*first)->local_address()),
            Unauthenticated("nonce replayed: it was already used"));
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, PcrValueOffIsRefused) {
  Sha256Digest extra = Sha256("debug kernel");
  ASSERT_TRUE(tpm_->ExtendPcr(16, extra).ok());
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  std::string reason = "PCR 16 value " +
                       ToHex(ExtendSha256(Sha256Digest{}, extra)) +
                       " is not a known-good value";
  EXPECT_EQ(AttestToMaster(**conn, *attester_),
            PermissionDenied("peer: " + reason));
  EXPECT_EQ(ReportFor((*conn)->local_address()), PermissionDenied(reason));
  ASSERT_TRUE(tpm_->ResetPcr(16).ok());
  ExpectGoodHostAttests();
}

// The host's log has an edited old entry. Its attester cannot parse its
// own log, so it sends the log whole (whatever the master offered), and
// the master's full replay refuses it at the edited line. (Incremental
// evidence cannot carry an old entry at all: SecondQuoteSendsOnlyNewEntries
// shows an edited new entry refused.)
TEST_F(AttestationTest, EditedImaEntryIsRefused) {
  std::vector<std::string> lines = ImaLines();
  // Entry 6 now claims another file digest; its template hash is unchanged.
  std::string& line = lines[5];
  std::size_t at = line.find("sha256:") + 7;
  line[at] = line[at] == '0' ? '1' : '0';
  std::string edited;
  for (const auto& l : lines) edited += l + "\n";
  WriteFile(*dir_ + "/edited.log", edited);
  Attester attester(tpm_, {*dir_ + "/edited.log"});
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  const std::string reason =
      "IMA log line 6: template hash does not match the entry's data (entry "
      "edited?)";
  EXPECT_EQ(AttestToMaster(**conn, attester),
            InvalidArgument("peer: " + reason));
  EXPECT_EQ(ReportFor((*conn)->local_address()), InvalidArgument(reason));
  ExpectGoodHostAttests();
}

// The truncated log is shorter than what the master verified before: the
// host sends it whole, and the full replay refuses it.
TEST_F(AttestationTest, TruncatedImaLogIsRefused) {
  std::vector<std::string> lines = ImaLines();
  std::string truncated;
  Sha256Digest replay{};
  for (int i = 0; i < kImaEntries - 3; ++i) {
    truncated += lines[i] + "\n";
  }
  auto entries = ParseImaLog(truncated);
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries)
    replay = ExtendSha256(replay, e.template_sha256);
  auto full = ReplayImaLog(ReadFile(*dir_ + "/ima.log"), nullptr);
  ASSERT_TRUE(full.ok());
  WriteFile(*dir_ + "/truncated.log", truncated);
  Attester attester(tpm_, {*dir_ + "/truncated.log"});
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  std::string reason = "IMA log replay gives PCR 10 " + ToHex(replay) +
                       " but the quoted PCR 10 is " + ToHex(full->pcr10) +
                       " (" + std::to_string(kImaEntries - 3) + " entries)";
  EXPECT_EQ(AttestToMaster(**conn, attester),
            PermissionDenied("peer: " + reason));
  EXPECT_EQ(ReportFor((*conn)->local_address()), PermissionDenied(reason));
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, UnknownAkIsRefused) {
  // Another TPM, whose AK was never enrolled.
  auto other = testing::SwtpmInstance::Start();
  ASSERT_TRUE(other.ok());
  auto other_tpm = (*other)->Open();
  ASSERT_TRUE(other_tpm.ok());
  auto ak = (*other_tpm)->AkPublic();
  ASSERT_TRUE(ak.ok());
  auto name = TpmObjectName(*ak);
  ASSERT_TRUE(name.ok());
  Attester attester(other_tpm->get(), {*dir_ + "/ima.log"});
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  std::string reason = "AK " + ToHex(*name) + " is not enrolled for host:node1";
  EXPECT_EQ(AttestToMaster(**conn, attester),
            Unauthenticated("peer: " + reason));
  EXPECT_EQ(ReportFor((*conn)->local_address()), Unauthenticated(reason));
  ExpectGoodHostAttests();
}

// Another host whose TPM has an ECC P-256 AK: enrolment (MakeCredential /
// ActivateCredential) and an ECDSA-signed quote, end to end.
TEST_F(AttestationTest, EccAkEnrolsAndAttests) {
  auto swtpm = testing::SwtpmInstance::Start();
  ASSERT_TRUE(swtpm.ok());
  {
    auto tpm = (*swtpm)->Open();
    ASSERT_TRUE(tpm.ok());
    auto entries = ParseImaLog(ReadFile(*dir_ + "/ima.log"));
    ASSERT_TRUE(entries.ok());
    for (const auto& e : *entries) {
      ASSERT_TRUE((*tpm)->ExtendPcr(10, e.template_sha256).ok());
    }
  }
  auto tpm = (*swtpm)->Open(AkAlgorithm::kEccP256, "ecc-ak");
  ASSERT_TRUE(tpm.ok());
  auto ek = (*tpm)->EkPublic();
  ASSERT_TRUE(ek.ok());
  master_->enroller().TrustEk({pki::Role::kHost, "node-ecc"}, Sha256(*ek));
  Attester attester(tpm->get(), {*dir_ + "/ima.log"});
  auto conn = Connect(*ecc_host_);
  ASSERT_TRUE(conn.ok());
  ASSERT_EQ(EnrolWithMaster(**conn, attester), Status::Ok());
  EXPECT_EQ(AttestToMaster(**conn, attester), Status::Ok());
}

// The log's boot_aggregate must be the digest of the quoted PCRs 0-9: the
// same log on a host whose boot measured something else (PCR 4) is refused,
// although it replays to the quoted PCR 10.
TEST_F(AttestationTest, BootAggregateOfAnotherBootIsRefused) {
  auto swtpm = testing::SwtpmInstance::Start();
  ASSERT_TRUE(swtpm.ok());
  ASSERT_TRUE((*swtpm)->ExtendPcr(4, Sha256("another bootloader")).ok());
  auto entries = ParseImaLog(ReadFile(*dir_ + "/ima.log"));
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) {
    ASSERT_TRUE((*swtpm)->ExtendPcr(10, e.template_sha256).ok());
  }
  auto tpm = (*swtpm)->Open();
  ASSERT_TRUE(tpm.ok());
  std::vector<std::uint32_t> boot_indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto values = (*tpm)->ReadPcrs(boot_indices);
  ASSERT_TRUE(values.ok());
  BootPcrs boot{};
  for (const PcrValue& v : *values) boot[v.index] = v.value;
  auto ek = (*tpm)->EkPublic();
  ASSERT_TRUE(ek.ok());
  master_->enroller().TrustEk({pki::Role::kHost, "node-ecc"}, Sha256(*ek));
  Attester attester(tpm->get(), {*dir_ + "/ima.log"});
  auto conn = Connect(*ecc_host_);
  ASSERT_TRUE(conn.ok());
  ASSERT_EQ(EnrolWithMaster(**conn, attester), Status::Ok());
  EXPECT_EQ(AttestToMaster(**conn, attester),
            PermissionDenied("peer: IMA log line 1: boot_aggregate sha256:" +
                             ToHex((*entries)[0].file_digest) +
                             " does not match PCRs 0-9 of the quote "
                             "(expected sha256:" +
                             ToHex(BootAggregate(boot)) + ")"));
}

// Re-attestation cost that does not grow with uptime: once the master has
// verified node1's log, a quote carries only the entries IMA measured since
// (the challenge says where to start), and the master replays only those
// from the PCR 10 it kept. An edited new entry is refused at its line.
TEST_F(AttestationTest, SecondQuoteSendsOnlyNewEntries) {
  const ImaReplayCache::Counters at_start = master_->ima_cache().counters();
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  const std::uint64_t verified = ImaLines().size();
  auto first = HelloAndChallenge(**conn);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->ima_from, verified);
  auto evidence = attester_->Answer(*first, (*conn)->channel_binding());
  ASSERT_TRUE(evidence.ok());
  EXPECT_EQ(evidence->ima_offset, verified);
  EXPECT_EQ(evidence->ima_entries, verified);
  EXPECT_EQ(evidence->ima_log, "");
  ASSERT_EQ(SendEvidence(**conn, *evidence), Status::Ok());

  // IMA measures three more files: the log and PCR 10 grow.
  std::string added;
  for (int i = 0; i < 3; ++i) added += AppendMeasurement(i);
  auto frame = (*conn)->ReadExpected(MessageType::kAttestChallenge, kWait);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  auto second = DecodeAttestChallenge(frame->payload);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ima_from, verified);
  evidence = attester_->Answer(*second, (*conn)->channel_binding());
  ASSERT_TRUE(evidence.ok());
  EXPECT_EQ(evidence->ima_offset, verified);
  EXPECT_EQ(evidence->ima_entries, verified + 3);
  EXPECT_EQ(evidence->ima_log, added);
  ASSERT_EQ(SendEvidence(**conn, *evidence), Status::Ok());
  const std::string address = (*conn)->local_address();
  ASSERT_TRUE(master_->WaitForEvents(address, 1, kWait));
  EXPECT_EQ(master_->EventsFor(address)[0].status, Status::Ok());
  ImaReplayCache::Counters now = master_->ima_cache().counters();
  EXPECT_EQ(now.incremental - at_start.incremental, 2u);
  EXPECT_EQ(now.full - at_start.full, 0u);
  EXPECT_EQ(now.fallback - at_start.fallback, 0u);

  // One more file, whose entry the host edits before sending.
  AppendMeasurement(3);
  frame = (*conn)->ReadExpected(MessageType::kAttestChallenge, kWait);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  auto third = DecodeAttestChallenge(frame->payload);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->ima_from, verified + 3);
  evidence = attester_->Answer(*third, (*conn)->channel_binding());
  ASSERT_TRUE(evidence.ok());
  ASSERT_EQ(evidence->ima_offset, verified + 3);
  std::size_t at = evidence->ima_log.find("sha256:") + 7;
  evidence->ima_log[at] = evidence->ima_log[at] == '0' ? '1' : '0';
  const std::string reason =
      "IMA log line " + std::to_string(verified + 4) +
      ": template hash does not match the entry's data (entry edited?)";
  EXPECT_EQ(SendEvidence(**conn, *evidence),
            InvalidArgument("peer: " + reason));
  ASSERT_TRUE(master_->WaitForEvents(address, 2, kWait));
  EXPECT_EQ(master_->EventsFor(address)[1].status, InvalidArgument(reason));
  ExpectGoodHostAttests();
}

// When the state the master kept does not fit the quote (here: it is made
// to name another AK, as if the host had re-enrolled in between), the
// master answers the incremental evidence with a challenge
// for the whole log instead of a verdict, on the same channel, and the
// host's second answer is replayed in full and accepted.
TEST_F(AttestationTest, FallbackAsksForTheWholeLogOnTheSameChannel) {
  const pki::Identity node1{pki::Role::kHost, "node1"};
  auto kept = master_->ima_cache().Find(node1, node1_allowlist_);
  ASSERT_TRUE(kept.has_value());
  ImaReplayState other_ak = *kept;
  other_ak.ak_name.back() ^= 1;
  master_->ima_cache().Store(node1, node1_allowlist_, other_ak);
  const ImaReplayCache::Counters before = master_->ima_cache().counters();
  auto conn = Connect(*node1_);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(AttestToMaster(**conn, *attester_), Status::Ok());
  const ImaReplayCache::Counters after = master_->ima_cache().counters();
  EXPECT_EQ(after.fallback - before.fallback, 1u);
  EXPECT_EQ(after.full - before.full, 1u);
  EXPECT_EQ(after.incremental - before.incremental, 0u);
  // The state is the quote's again: the next quote is incremental.
  auto now = master_->ima_cache().Find(node1, node1_allowlist_);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->ak_name, kept->ak_name);
  EXPECT_EQ(now->entries, kept->entries);
  std::string address = (*conn)->local_address();
  conn->reset();
  EXPECT_EQ(ReportFor(address), Status::Ok());
  ExpectGoodHostAttests();
  EXPECT_EQ(master_->ima_cache().counters().incremental - after.incremental,
            1u);
}

// A host up for months: the first quote carries a 100,000-entry IMA log
// (about 19 MB, an evidence frame and AttestImaChunk frames, every one under
// the 1 MiB frame limit) and is replayed in full; the next round on the
// same channel carries no old entry and is replayed incrementally.
TEST_F(AttestationTest, LongImaLogIsSentInChunksThenIncrementally) {
  auto swtpm = testing::SwtpmInstance::Start();
  ASSERT_TRUE(swtpm.ok());
  auto tpm = (*swtpm)->Open();
  ASSERT_TRUE(tpm.ok());
  std::vector<std::uint32_t> boot_indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto values = (*tpm)->ReadPcrs(boot_indices);
  ASSERT_TRUE(values.ok());
  BootPcrs boot{};
  for (const PcrValue& v : *values) boot[v.index] = v.value;
  std::string log;
  ImaLine first = MakeBootAggregateLine(boot);
  log += first.text + "\n";
  ASSERT_TRUE((*tpm)->ExtendPcr(10, first.template_sha256).ok());
  for (int i = 1; i < kLongLogEntries; ++i) {
    ImaLine line = MakeImaNgLine(LongLogPath(i), Sha256(LongLogPath(i)));
    log += line.text + "\n";
    ASSERT_TRUE((*tpm)->ExtendPcr(10, line.template_sha256).ok());
  }
  ASSERT_GT(log.size(), 3 * kImaChunk);
  WriteFile(*dir_ + "/long.log", log);
  auto ek = (*tpm)->EkPublic();
  ASSERT_TRUE(ek.ok());
  master_->enroller().TrustEk({pki::Role::kHost, "node-long"}, Sha256(*ek));
  Attester attester(tpm->get(), {*dir_ + "/long.log"});
  auto conn = Connect(*long_log_host_);
  ASSERT_TRUE(conn.ok());
  ASSERT_EQ(EnrolWithMaster(**conn, attester), Status::Ok());
  const ImaReplayCache::Counters before = master_->ima_cache().counters();
  ASSERT_EQ(AttestToMaster(**conn, attester), Status::Ok());
  EXPECT_EQ(master_->ima_cache().counters().full - before.full, 1u);
  ASSERT_EQ(ServeReattestation(**conn, attester, kWait, 1), Status::Ok());
  const std::string address = (*conn)->local_address();
  ASSERT_TRUE(master_->WaitForEvents(address, 1, kWait));
  EXPECT_EQ(master_->EventsFor(address)[0].status, Status::Ok());
  ImaReplayCache::Counters after = master_->ima_cache().counters();
  EXPECT_EQ(after.full - before.full, 1u);
  EXPECT_EQ(after.incremental - before.incremental, 1u);
  EXPECT_EQ(after.fallback - before.fallback, 0u);
}

TEST_F(AttestationTest, HostWithoutTpmOnlyWherePolicyAllows) {
  Attester no_tpm(nullptr, {});
  auto refused = Connect(*node1_);
  ASSERT_TRUE(refused.ok());
  const std::string reason =
      "host reports no TPM and the requirements need one";
  EXPECT_EQ(AttestToMaster(**refused, no_tpm),
            PermissionDenied("peer: " + reason));
  EXPECT_EQ(ReportFor((*refused)->local_address()), PermissionDenied(reason));

  auto allowed = Connect(*notpm_);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(AttestToMaster(**allowed, no_tpm), Status::Ok());
}

TEST_F(AttestationTest, CertificateFromAnotherCaIsRefused) {
  auto conn = Connect(*foreign_);
  // TLS 1.3: the client finishes first; the refusal arrives on its read.
  std::string address;
  if (conn.ok()) {
    address = (*conn)->local_address();
    EXPECT_FALSE((*conn)->ReadFrame(kWait).ok());
  }
  ASSERT_FALSE(address.empty()) << conn.status().ToString();
  EXPECT_EQ(
      ReportFor(address),
      Unauthenticated("peer certificate rejected: unable to get local issuer "
                      "certificate"));
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, ExpiredCertificateIsRefused) {
  auto conn = Connect(*expired_);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  std::string address = (*conn)->local_address();
  EXPECT_FALSE((*conn)->ReadFrame(kWait).ok());
  EXPECT_EQ(
      ReportFor(address),
      Unauthenticated("peer certificate rejected: certificate has expired"));
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, Tls12ClientIsRefused) {
  auto [fd, address] = RawConnect();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  EXPECT_NE(SSL_connect(ssl), 1);
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  EXPECT_EQ(ReportFor(address),
            Unauthenticated("TLS handshake failed: unsupported protocol"));
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, GarbageBytesAreRefused) {
  // Before TLS: not a TLS record at all.
  auto [fd, address] = RawConnect();
  const char garbage[] = "\x01\x02 this is not TLS \xff\xfe\r\n";
  ASSERT_GT(::write(fd, garbage, sizeof garbage), 0);
  EXPECT_EQ(ReportFor(address),
            Unauthenticated("TLS handshake failed: wrong version number"));
  ::close(fd);

  ExpectGoodHostAttests();
}

// Inside an authenticated TLS session: bytes that are not a frame, a frame
// above the maximum size, a wrong version, an unknown type. Each is answered
// with an error frame naming it, then the channel is closed.
TEST_F(AttestationTest, MalformedFramesAreRefused) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    std::string reason;
  };
  std::vector<Case> cases = {
      {{'G', 'A', 'R', 'B', 'A', 'G', 'E', '!', '!', '!'}, "bad frame magic"},
      // magic, version 1, type kAttestHello, length 2 MiB
      {{0x54, 0x56, 0x00, 0x01, 0x00, 0x06, 0x00, 0x20, 0x00, 0x00},
       "frame length 2097152 exceeds maximum 1048576"},
      {{0x54, 0x56, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00},
       "unsupported protocol version 2 (expected 1)"},
      {{0x54, 0x56, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00},
       "unknown message type 256"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    auto conn = Connect(*node1_);
    ASSERT_TRUE(conn.ok());
    std::string address = (*conn)->local_address();
    ASSERT_EQ((*conn)->WriteRaw(c.bytes, kWait), Status::Ok());
    auto answer = (*conn)->ReadFrame(kWait);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    ASSERT_EQ(answer->type, MessageType::kError);
    EXPECT_EQ(channel::DecodeErrorPayload(answer->payload),
              ProtocolError(c.reason));
    EXPECT_EQ(ReportFor(address), ProtocolError(c.reason));
  }
  ExpectGoodHostAttests();
}

TEST_F(AttestationTest, SilentClientsAreDroppedWithoutBlockingOthers) {
  // One that never starts TLS, one that completes TLS and then says nothing.
  auto [fd, tcp_address] = RawConnect();
  auto quiet = Connect(*node1_);
  ASSERT_TRUE(quiet.ok());
  std::string tls_address = (*quiet)->local_address();
  // While both are pending, a good host is served.
  ExpectGoodHostAttests();
  EXPECT_EQ(ReportFor(tcp_address),
            Timeout("TLS handshake timed out after 500 ms"));
  EXPECT_EQ(ReportFor(tls_address),
            Timeout("no complete frame within 1500 ms"));
  auto answer = (*quiet)->ReadFrame(kWait);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(channel::DecodeErrorPayload(answer->payload),
            Timeout("no complete frame within 1500 ms"));
  ::close(fd);
}

// Measured boot end to end: a host whose swtpm was extended with a
// synthetic UEFI boot sends that boot's event log with its quote; the master
// replays it against the quoted PCRs 0-7 and checks its policy.
class MeasuredBootAttestationTest : public AttestationTest {
 protected:
  // A fresh swtpm for node-mb with `boot` extended into PCRs 0-23, its log
  // written, enrolled; then one attestation.
  Status AttestBoot(const SyntheticBoot& boot, const Sha256Digest* extra_pcr4,
                    Sha256Digest* quoted_pcr4 = nullptr) {
    auto swtpm = testing::SwtpmInstance::Start();
    if (!swtpm.ok()) return swtpm.status();
    for (const EventLogBuilder::Extend& x : boot.log.extends()) {
      TVD_RETURN_IF_ERROR((*swtpm)->ExtendPcr(x.pcr, x.sha256));
    }
    if (extra_pcr4 != nullptr) {
      TVD_RETURN_IF_ERROR((*swtpm)->ExtendPcr(4, *extra_pcr4));
    }
    std::vector<std::uint8_t> bytes = boot.log.bytes();
    WriteFile(*dir_ + "/binary_bios_measurements",
              std::string(bytes.begin(), bytes.end()));
    auto tpm = (*swtpm)->Open();
    if (!tpm.ok()) return tpm.status();
    if (quoted_pcr4 != nullptr) {
      std::vector<std::uint32_t> pcr4{4};
      auto v = (*tpm)->ReadPcrs(pcr4);
      if (!v.ok()) return v.status();
      *quoted_pcr4 = (*v)[0].value;
    }
    auto ek = (*tpm)->EkPublic();
    if (!ek.ok()) return ek.status();
    master_->enroller().TrustEk({pki::Role::kHost, "node-mb"}, Sha256(*ek));
    Attester attester(
        tpm->get(), {*dir_ + "/ima.log", *dir_ + "/binary_bios_measurements"});
    auto conn = Connect(*mb_host_);
    if (!conn.ok()) return conn.status();
    TVD_RETURN_IF_ERROR(EnrolWithMaster(**conn, attester));
    return AttestToMaster(**conn, attester);
  }
};

TEST_F(MeasuredBootAttestationTest, AGoodBootIsAccepted) {
  EXPECT_EQ(AttestBoot(MakeTypicalBoot("node-mb"), nullptr), Status::Ok());
}

TEST_F(MeasuredBootAttestationTest, ALogThatDoesNotReplayIsRefused) {
  SyntheticBoot boot = MakeTypicalBoot("node-mb");
  Sha256Digest rogue = Sha256("a boot loader the log does not show");
  Sha256Digest quoted{};
  Status s = AttestBoot(boot, &rogue, &quoted);
  EXPECT_EQ(s, PermissionDenied("peer: event log replay gives PCR 4 " +
                                ToHex(boot.log.pcrs()[4]) +
                                " but the quoted PCR 4 is " + ToHex(quoted)));
}

TEST_F(MeasuredBootAttestationTest, ADisallowedBootloaderIsRefused) {
  // Another host's boot: it replays, but its firmware is not node-mb's.
  EXPECT_EQ(AttestBoot(MakeTypicalBoot("node-other"), nullptr),
            PermissionDenied("peer: event log event 2 (PCR 0, "
                             "EV_EFI_PLATFORM_FIRMWARE_BLOB): firmware " +
                             ToHex(Sha256("firmware volume 0 node-other")) +
                             " is not allowed by the measured-boot policy"));
}

}  // namespace
}  // namespace tvd::attest

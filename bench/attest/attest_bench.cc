// Attestation benchmark with a real software TPM.
//
// 1. Verification throughput: K quotes from the swtpm (RSA-2048 AK), each
//    over PCRs 0 and 10 with its own nonce and channel binding and an IMA
//    log of 1,000 ima-ng entries. Each verification decodes the evidence
//    message, consumes the nonce, finds the AK, checks the TPMS_ATTEST,
//    the signature, the binding, the clock, the PCR digest and known-good
//    PCR 0, replays the 1,000 entries into PCR 10 and checks each against
//    the allowlist. Run on 1 and on T threads sharing one verifier.
// 2. The same quotes checked one by one by `tpm2_checkquote` processes
//    (signature + qualifying data; it does no IMA replay), for the ratio.
// 3. Handshake + attestation latency: a host connects to a running test
//    master (TLS 1.3 handshake, challenge, quote by the swtpm, 1,000-entry
//    IMA log, verification, verdict), p50 / p99 over N connections.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "tvd/attest/attester.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/bench/must.h"
#include "tvd/channel/channel_client.h"
#include "tvd/log.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/testing/attest_test_master.h"
#include "tvd/testing/swtpm.h"

extern char** environ;

namespace tvd::attest {
namespace {

using bench::Die;
using bench::Must;

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread: the machine is shared, so wall-clock
// rates depend on what else runs; CPU time per verification does not.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void WriteBytes(const std::string& path, std::span<const std::uint8_t> b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()),
             static_cast<std::streamsize>(b.size()));
}

int RunProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Sample {
  AttestChallenge challenge;
  std::array<std::uint8_t, 32> binding;
  std::vector<std::uint8_t> evidence_bytes;  // as received on the wire
};

}  // namespace

int Main(int argc, char** argv) {
  int quotes = 200;
  int threads = 2;
  int rounds = 100;
  int connections = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--quotes") quotes = value;
    if (flag == "--threads") threads = value;
    if (flag == "--rounds") rounds = value;
    if (flag == "--connections") connections = value;
  }
  log::SetLevel(log::Level::kWarning);

  char tmpl[] = "/tmp/tvd-bench-attest-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  std::string dir = tmpl;

  auto swtpm = Must(testing::SwtpmInstance::Start(), "start swtpm");
  auto tpm = Must(swtpm->Open(AkAlgorithm::kRsa2048), "open TPM");
  // The IMA log: 1,000 ima-ng entries (SHA-256 template-hash column), the
  // first the boot_aggregate of the swtpm's PCRs 0-9, and PCR 10 extended
  // to match.
  constexpr int kEntries = 1000;
  std::vector<std::uint32_t> boot_indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto boot_values = Must(tpm->ReadPcrs(boot_indices), "read PCRs 0-9");
  BootPcrs boot{};
  for (const PcrValue& v : boot_values) boot[v.index] = v.value;
  ImaAllowlist allowlist;
  std::string log_text;
  std::vector<Sha256Digest> extends;
  for (int i = 0; i < kEntries; ++i) {
    std::string path =
        i == 0 ? "boot_aggregate"
               : "/usr/lib/x86_64-linux-gnu/lib" + std::to_string(i) + ".so.1";
    Sha256Digest file = i == 0 ? BootAggregate(boot) : Sha256(path);
    ImaLine line = MakeImaNgLine(path, file);
    log_text += line.text + "\n";
    extends.push_back(line.template_sha256);
    if (i != 0) allowlist.Allow(path, file);
  }
  std::ofstream(dir + "/ima.log") << log_text;
  for (const Sha256Digest& d : extends) {
    Status s = tpm->ExtendPcr(10, d);
    if (!s.ok()) Die("extend PCR 10", s);
  }
  auto ak_public = Must(tpm->AkPublic(), "create AK");
  Attester attester(tpm.get(), {dir + "/ima.log"});

  TcbRequirements req;
  req.pcrs.push_back({0, {Sha256Digest{}}});
  req.ima = allowlist;
  pki::Identity host{pki::Role::kHost, "node1"};

  // ---- 1. quotes from the TPM ----
  std::vector<Nonce> nonce_sequence;
  std::vector<Sample> samples;
  auto t0 = Clock::now();
  {
    NonceRegistry issuer;
    for (int i = 0; i < quotes; ++i) {
      Sample s;
      s.challenge.nonce = issuer.Issue(1);
      s.challenge.pcrs = PcrSelectionFor(req);
      s.challenge.want_ima_log = true;
      for (std::size_t b = 0; b < s.binding.size(); ++b) {
        s.binding[b] = static_cast<std::uint8_t>(i * 31 + b);
      }
      Evidence e = Must(attester.Answer(s.challenge, s.binding), "quote");
      s.evidence_bytes = Encode(e);
      nonce_sequence.push_back(s.challenge.nonce);
      samples.push_back(std::move(s));
    }
  }
  double quote_seconds = Seconds(Clock::now() - t0);
  std::printf(
      "swtpm produced %d quotes (+ PCR reads, IMA log %zu bytes) in "
      "%.2f s (%.1f ms each)\n",
      quotes, log_text.size(), quote_seconds, 1000 * quote_seconds / quotes);

  // One pass: fresh registries (nonces are single-use, the TPM clock must
  // not go backwards per AK), the same nonces re-issued in order, then
  // every sample verified once. With several threads each takes a
  // contiguous slice: the nonce registry is shared, as in a master; the AK
  // registry is per thread because one AK's quotes arrive one after the
  // other from its host, never concurrently.
  double cpu_seconds = 0;
  auto pass = [&](int nthreads) -> double {
    std::size_t next = 0;
    NonceRegistry nonces(std::chrono::seconds(600),
                         std::chrono::steady_clock::now,
                         [&] { return nonce_sequence[next++]; });
    for (int i = 0; i < quotes; ++i) (void)nonces.Issue(1);
    std::vector<std::unique_ptr<AkRegistry>> aks;
    for (int t = 0; t < nthreads; ++t) {
      aks.push_back(std::make_unique<AkRegistry>());
      if (!aks.back()->Add(host, ak_public).ok()) std::exit(1);
    }
    std::atomic<int> failures{0};
    std::mutex cpu_mutex;
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < nthreads; ++t) {
      pool.emplace_back([&, t] {
        double cpu_start = ThreadCpuSeconds();
        QuoteVerifier verifier(*aks[t], nonces);
        int begin = quotes * t / nthreads;
        int end = quotes * (t + 1) / nthreads;
        for (int i = begin; i < end; ++i) {
          auto e = DecodeEvidence(samples[i].evidence_bytes);
          Status s = e.ok() ? verifier.Verify({1, host, samples[i].binding},
                                              samples[i].challenge, req, *e)
                            : e.status();
          if (!s.ok() && failures++ == 0) {
            std::fprintf(stderr, "verification failed: %s\n",
                         s.ToString().c_str());
          }
        }
        std::lock_guard lock(cpu_mutex);
        cpu_seconds += ThreadCpuSeconds() - cpu_start;
      });
    }
    for (auto& t : pool) t.join();
    double secs = Seconds(Clock::now() - start);
    return failures == 0 ? secs : -static_cast<double>(failures);
  };

  double best_rate = 0;
  for (int nthreads : {1, threads}) {
    cpu_seconds = 0;
    double total = 0;
    int verified = 0;
    for (int r = 0; r < rounds; ++r) {
      double secs = pass(nthreads);
      if (secs < 0) {
        std::printf("  %d thread(s): %d verifications failed (see stderr)\n",
                    nthreads, static_cast<int>(-secs));
        break;
      }
      total += secs;
      verified += quotes;
    }
    if (verified > 0) {
      std::printf(
          "verify (1,000-entry IMA replay each), %d thread(s): %d "
          "verifications in %.3f s wall = %.0f /s; CPU %.1f us per "
          "verification = %.0f /s per fully available core\n",
          nthreads, verified, total, verified / total,
          1e6 * cpu_seconds / verified, verified / cpu_seconds);
      best_rate = std::max(best_rate, verified / total);
    }
  }

  // ---- 2. tpm2_checkquote, one process per quote ----
  {
    std::string ak_path = dir + "/ak.pub";
    WriteBytes(ak_path, ak_public);
    int n = std::min(quotes, 100);
    std::vector<std::vector<std::string>> commands;
    for (int i = 0; i < n; ++i) {
      Evidence e = Must(DecodeEvidence(samples[i].evidence_bytes), "decode");
      std::string m = dir + "/q" + std::to_string(i) + ".msg";
      std::string s = dir + "/q" + std::to_string(i) + ".sig";
      WriteBytes(m, e.quote.attest);
      WriteBytes(s, e.quote.signature);
      Sha256Digest qd =
          QualifyingData(samples[i].challenge.nonce, samples[i].binding);
      commands.push_back({"tpm2_checkquote", "-u", ak_path, "-m", m, "-s", s,
                          "-g", "sha256", "-q", ToHex(qd)});
    }
    int ok = 0;
    auto start = Clock::now();
    for (const auto& c : commands) ok += RunProcess(c) == 0 ? 1 : 0;
    double secs = Seconds(Clock::now() - start);
    std::printf(
        "tpm2_checkquote (signature + qualifying data only, no IMA "
        "replay): %d/%d verified in %.3f s = %.0f /s\n",
        ok, n, secs, n / secs);
    std::printf("ratio (best wall-clock rate above / tpm2_checkquote): %.0fx\n",
                best_rate / (n / secs));
  }

  // ---- 3. handshake + attestation latency against a running master ----
  {
    auto ca = Must(pki::CreateCa("bench-vdc", pki::Validity::ForDays(1)), "CA");
    auto master_kc = Must(pki::IssueCertificate(ca, pki::Role::kHost, "master",
                                                pki::Validity::ForDays(1)),
                          "master cert");
    auto host_kc = Must(pki::IssueCertificate(ca, pki::Role::kHost, "node1",
                                              pki::Validity::ForDays(1)),
                        "host cert");
    testing::TestMasterOptions options;
    req.interval = std::chrono::seconds(600);
    options.default_requirements = req;
    auto master = Must(testing::TestMaster::Start(
                           std::move(options), {ca.cert_pem, master_kc.cert_pem,
                                                master_kc.key_pem.Clone()}),
                       "start master");
    master->enroller().TrustEk(host, Sha256(Must(tpm->EkPublic(), "EK")));
    channel::ClientOptions client_options;
    client_options.expected_peer = pki::Identity{pki::Role::kHost, "master"};
    auto client_tls =
        Must(channel::TlsContext::Create(
                 channel::TlsSide::kClient,
                 {ca.cert_pem, host_kc.cert_pem, host_kc.key_pem.Clone()}),
             "client TLS");
    {
      auto conn = Must(channel::ConnectChannel("127.0.0.1", master->port(),
                                               *client_tls, client_options),
                       "connect");
      Status s = EnrolWithMaster(*conn, attester);
      if (!s.ok()) Die("enrol", s);
      s = AttestToMaster(*conn, attester);
      if (!s.ok()) Die("first attestation", s);
    }
    std::vector<double> ms;
    for (int i = 0; i < connections; ++i) {
      auto start = Clock::now();
      auto conn = Must(channel::ConnectChannel("127.0.0.1", master->port(),
                                               *client_tls, client_options),
                       "connect");
      Status s = AttestToMaster(*conn, attester);
      if (!s.ok()) Die("attest", s);
      ms.push_back(1000 * Seconds(Clock::now() - start));
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
      return ms[std::min(ms.size() - 1,
                         static_cast<std::size_t>(p * ms.size()))];
    };
    std::printf(
        "handshake + attestation latency (%d connections, swtpm "
        "quote, 1,000-entry IMA log): p50 %.2f ms, p99 %.2f ms\n",
        connections, pct(0.50), pct(0.99));
  }
  tpm.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace tvd::attest

int main(int argc, char** argv) { return tvd::attest::Main(argc, argv); }

// Cost of one re-attestation of a host with a long IMA log, full replay
// against incremental (tvd/attest/ima_incremental.h), in the same run, in
// CPU time of the verifying thread (the machine is shared; CPU time does
// not depend on what else runs).
//
// A real swtpm (RSA-2048 AK, as the testbed's hosts) holds PCR 10 extended
// with an IMA log of --entries entries (default 100,000: boot_aggregate of
// the swtpm's PCRs 0-9, then ima-ng entries, all allowlisted). The host
// side is the project's Attester, the master side a QuoteVerifier. Per
// quote the swtpm quotes and the attester reads its log, outside the
// measured time; measured is what the master does with the evidence
// frames' payloads: DecodeEvidence and AppendImaChunk, then
// QuoteVerifier::Check (nonce, AK, quote
// structure, signature, binding, TPM clock, PCR digest, known-good PCR 0,
// then the IMA part).
//
//   quote, no IMA   the same checks with requirements that have no IMA
//                   allowlist: the signature-verification figure
//   full            challenge ima_from = 0: the whole log sent, decoded and
//                   replayed (a first quote, or a fallback)
//   incremental +K  the master kept the state of the last good quote; K
//                   entries were measured since, and only they are sent
//                   and replayed (K from --new, default 10,100)
// For each, "IMA part" is VerifyImaEvidence alone on the same input,
// repeated (it is pure), so the figure is stable. "requirements copy" is
// what the master's member channel does before every round (it copies the
// TVD's requirements, allowlist included, out from under its lock).
// Each figure is the median over --rounds quotes (default 15; 5 for full).
// Every verdict is checked: nothing measured is a failure path.
//
// Run: bench_ima_reattest [--entries N] [--new K[,K...]] [--rounds R]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tvd/attest/attester.h"
#include "tvd/attest/ima_incremental.h"
#include "tvd/attest/quote_verifier.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/bench/cpu_time.h"
#include "tvd/bench/must.h"
#include "tvd/log.h"
#include "tvd/testing/swtpm.h"

namespace tvd::attest {
namespace {

using bench::Die;
using bench::Must;

using bench::ThreadCpuMicros;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over 5 batches of the CPU time per call of `f`, in microseconds.
double MicrosPerCall(int reps, const std::function<void()>& f) {
  std::vector<double> per_call;
  for (int batch = 0; batch < 5; ++batch) {
    double start = ThreadCpuMicros();
    for (int i = 0; i < reps; ++i) f();
    per_call.push_back((ThreadCpuMicros() - start) / reps);
  }
  return Median(per_call);
}

std::string Path(std::size_t i) {
  return "/usr/lib/x86_64-linux-gnu/lib" + std::to_string(i) + ".so.1";
}

class Bench {
 public:
  Bench(std::size_t entries, std::size_t max_new) {
    swtpm_ = Must(testing::SwtpmInstance::Start(), "start swtpm");
    tpm_ = Must(swtpm_->Open(AkAlgorithm::kRsa2048), "open TPM");
    char tmpl[] = "/tmp/tvd-bench-ima-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::exit(1);
    dir_ = tmpl;
    log_path_ = dir_ + "/ima.log";
    std::vector<std::uint32_t> boot_indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    BootPcrs boot{};
    for (const PcrValue& v : Must(tpm_->ReadPcrs(boot_indices), "read PCRs"))
      boot[v.index] = v.value;
    ImaAllowlist allowlist;
    for (std::size_t i = 1; i < entries + max_new; ++i) {
      allowlist.Allow(Path(i), Sha256(Path(i)));
    }
    std::string text;
    std::vector<Sha256Digest> extends;
    ImaLine first = MakeBootAggregateLine(boot);
    text += first.text + "\n";
    extends.push_back(first.template_sha256);
    for (std::size_t i = 1; i < entries; ++i) {
      ImaLine line = MakeImaNgLine(Path(i), Sha256(Path(i)));
      text += line.text + "\n";
      extends.push_back(line.template_sha256);
    }
    std::ofstream(log_path_, std::ios::binary) << text;
    log_bytes_ = text.size();
    for (const Sha256Digest& d : extends) {
      Status s = tpm_->ExtendPcr(10, d);
      if (!s.ok()) Die("extend PCR 10", s);
    }
    entries_ = entries;
    ak_public_ = Must(tpm_->AkPublic(), "AK");
    ak_name_ = Must(TpmObjectName(ak_public_), "AK name");
    with_ima_.pcrs.push_back({0, {Sha256Digest{}}});
    with_ima_.ima = std::move(allowlist);
    // The same PCR selection (0-10), no IMA: the quote checks alone, each
    // PCR expected at its current value.
    std::vector<std::uint32_t> all{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for (const PcrValue& v : Must(tpm_->ReadPcrs(all), "read PCRs"))
      no_ima_.pcrs.push_back({v.index, {v.value}});
    if (PcrSelectionFor(no_ima_) != PcrSelectionFor(with_ima_)) std::exit(1);
  }
  ~Bench() { std::filesystem::remove_all(dir_); }

  std::size_t log_bytes() const { return log_bytes_; }
  std::size_t entries() const { return entries_; }

  // Where incremental evidence of the log as it is now would end.
  ImaStart Now() {
    std::vector<std::uint32_t> ten{10};
    return {entries_, Must(tpm_->ReadPcrs(ten), "read PCR 10")[0].value};
  }

  // IMA measures `k` more files: log and PCR 10 grow.
  void Grow(std::size_t k) {
    std::ofstream out(log_path_, std::ios::binary | std::ios::app);
    for (std::size_t j = 0; j < k; ++j, ++entries_) {
      ImaLine line = MakeImaNgLine(Path(entries_), Sha256(Path(entries_)));
      out << line.text << "\n";
      Status s = tpm_->ExtendPcr(10, line.template_sha256);
      if (!s.ok()) Die("extend PCR 10", s);
    }
  }

  struct Quote {
    AttestChallenge challenge;
    // The evidence frame and its IMA chunk frames' payloads, as received.
    std::vector<std::vector<std::uint8_t>> frames;
    Evidence evidence;  // decoded once, for the IMA part
  };
  // A challenge as MasterAttestation builds it, answered by the attester.
  // `start`: what the master will have kept when it verifies this quote.
  Quote Answer(NonceRegistry& nonces, const TcbRequirements& req,
               ImaStart start) {
    Quote q;
    q.challenge.nonce = nonces.Issue(1);
    q.challenge.pcrs = PcrSelectionFor(req);
    q.challenge.want_ima_log = req.ima.has_value();
    q.challenge.ima_from = start.from;
    q.challenge.ima_pcr10 = start.pcr10;
    Attester attester(tpm_.get(), {log_path_});
    q.evidence = Must(attester.Answer(q.challenge, binding_), "quote");
    q.frames = Must(EncodeEvidenceFrames(q.evidence), "encode evidence");
    return q;
  }
  // What the master does with the evidence frame, in CPU microseconds.
  double Verify(QuoteVerifier& verifier, const TcbRequirements& req,
                const Quote& q) {
    double start = ThreadCpuMicros();
    Evidence e = Must(DecodeEvidence(q.frames[0]), "decode evidence");
    for (std::size_t i = 1; i < q.frames.size(); ++i) {
      Status s = AppendImaChunk(e, q.frames[i]);
      if (!s.ok()) Die("IMA chunk", s);
    }
    QuoteVerdict v = verifier.Check({1, host_, binding_}, q.challenge, req, e);
    double micros = ThreadCpuMicros() - start;
    if (!v.status.ok() || !v.need_full_log.empty()) {
      Die("verdict",
          v.status.ok() ? FailedPrecondition(v.need_full_log) : v.status);
    }
    return micros;
  }
  // VerifyImaEvidence alone on `q`'s IMA fields.
  double ImaPart(const Quote& q, const ImaReplayState* kept, int reps) {
    BootPcrs boot{};
    Sha256Digest pcr10{};
    for (const PcrValue& v : q.evidence.pcrs) {
      if (v.index < kBootAggregatePcrCount) boot[v.index] = v.value;
      if (v.index == kImaPcr) pcr10 = v.value;
    }
    ImaQuoteFacts facts;
    facts.ak_name = ak_name_;
    facts.boot_pcrs = &boot;
    facts.pcr10 = pcr10;
    if (kept != nullptr) {
      facts.reset_count = kept->reset_count;
      facts.restart_count = kept->restart_count;
    }
    const ImaEvidence evidence{q.evidence.ima_log, q.evidence.ima_offset,
                               q.evidence.ima_entries};
    return MicrosPerCall(reps, [&] {
      ImaVerdict v = VerifyImaEvidence(evidence, *with_ima_.ima, facts, kept,
                                       q.challenge.ima_pcr10);
      if (!v.status.ok() || !v.need_full_log.empty()) std::exit(2);
    });
  }

  pki::Identity host_{pki::Role::kHost, "node1"};
  std::array<std::uint8_t, 32> binding_{};
  std::vector<std::uint8_t> ak_public_;
  std::vector<std::uint8_t> ak_name_;
  TcbRequirements with_ima_, no_ima_;

 private:
  std::unique_ptr<testing::SwtpmInstance> swtpm_;
  std::unique_ptr<EsysTpm> tpm_;
  std::string dir_, log_path_;
  std::size_t log_bytes_ = 0;
  std::size_t entries_ = 0;
};

// A copy of `req`, as the master makes for each round; its list's size.
[[gnu::noinline]] std::size_t CopiedListSize(const TcbRequirements& req) {
  std::optional<TcbRequirements> copy(req);
  return copy->ima.has_value() ? copy->ima->size() : 0;
}

std::vector<std::size_t> ParseList(const std::string& s) {
  std::vector<std::size_t> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    out.push_back(std::strtoull(item.c_str(), nullptr, 10));
  }
  return out;
}

}  // namespace

int Main(int argc, char** argv) {
  std::size_t entries = 100000;
  std::vector<std::size_t> fresh = {10, 100};
  int rounds = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--entries") entries = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--new") fresh = ParseList(argv[i + 1]);
    if (flag == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  if (entries < 2 || fresh.empty() || rounds < 1) return 1;
  log::SetLevel(log::Level::kWarning);
  std::size_t max_new = 0;
  for (std::size_t k : fresh)
    max_new += k * static_cast<std::size_t>(rounds + 1);

  Bench bench(entries, max_new);
  std::printf(
      "IMA log: %zu entries, %.1f MB; swtpm RSA-2048 AK; CPU time of "
      "the verifying thread, median of %d quotes\n",
      entries, bench.log_bytes() / 1e6, rounds);
  AkRegistry aks;
  if (!aks.Add(bench.host_, bench.ak_public_).ok()) return 1;
  NonceRegistry nonces(std::chrono::seconds(600));

  // Quotes are made (swtpm, attester) before they are verified, one phase
  // at a time, so the verifying thread's caches and heap are not disturbed
  // by the host side's work between two verifications.
  //
  // Quote checks without IMA: the signature-verification figure.
  {
    QuoteVerifier verifier(aks, nonces);
    std::vector<Bench::Quote> quotes;
    for (int r = 0; r < rounds; ++r) {
      quotes.push_back(bench.Answer(nonces, bench.no_ima_, {}));
    }
    std::vector<double> t;
    for (const auto& q : quotes) {
      t.push_back(bench.Verify(verifier, bench.no_ima_, q));
    }
    std::printf(
        "  %-28s %10.1f us   (decode, nonce, AK, signature, binding,"
        " clock, PCR digest)\n",
        "quote, no IMA", Median(t));
  }

  // The master copies the TVD's requirements (with the allowlist) for every
  // round; the allowlist's table is shared between copies.
  {
    double copy = MicrosPerCall(100, [&] {
      if (CopiedListSize(bench.with_ima_) == 0) std::exit(6);
    });
    std::printf("  %-28s %10.1f us   (%zu-entry allowlist)\n",
                "requirements copy", copy, bench.with_ima_.ima->size());
  }

  ImaReplayCache cache;
  QuoteVerifier verifier(aks, nonces, &cache);
  // Full replay: the whole log sent and replayed.
  {
    std::vector<Bench::Quote> quotes;
    for (int r = 0; r < std::min(rounds, 5); ++r) {
      quotes.push_back(bench.Answer(nonces, bench.with_ima_, {}));
      if (quotes.back().evidence.ima_offset != 0) return 3;
    }
    std::vector<double> t;
    for (const auto& q : quotes) {
      t.push_back(bench.Verify(verifier, bench.with_ima_, q));
    }
    double ima = bench.ImaPart(quotes.back(), nullptr, 1);
    std::printf(
        "  %-28s %10.1f us   IMA part %10.1f us   (%zu entries, %zu "
        "frames)\n",
        "full replay", Median(t), ima,
        static_cast<std::size_t>(quotes.back().evidence.ima_entries),
        quotes.back().frames.size());
  }
  // Incremental: the master kept the state of the last good quote; each
  // quote carries the `k` entries measured since the one before.
  for (std::size_t k : fresh) {
    std::vector<Bench::Quote> quotes;
    std::vector<ImaReplayState> kept;
    auto state = cache.Find(bench.host_, bench.with_ima_.ima->fingerprint());
    if (!state) return 4;
    ImaStart start = bench.Now();
    for (int r = 0; r < rounds; ++r) {
      bench.Grow(k);
      quotes.push_back(bench.Answer(nonces, bench.with_ima_, start));
      const Evidence& e = quotes.back().evidence;
      if (e.ima_offset != start.from || e.ima_entries != start.from + k) {
        return 5;
      }
      ImaReplayState s = *state;
      s.entries = start.from;
      s.pcr10 = start.pcr10;
      kept.push_back(s);
      start = bench.Now();
    }
    double ima = bench.ImaPart(quotes[0], &kept[0], 200);
    std::vector<double> t;
    for (const auto& q : quotes) {
      t.push_back(bench.Verify(verifier, bench.with_ima_, q));
    }
    std::string name = "incremental +" + std::to_string(k) + " entries";
    std::printf(
        "  %-28s %10.1f us   IMA part %10.1f us   (%zu bytes of log "
        "sent)\n",
        name.c_str(), Median(t), ima, quotes[0].evidence.ima_log.size());
  }
  ImaReplayCache::Counters c = cache.counters();
  std::printf(
      "replay paths taken: full %llu, incremental %llu, fallback "
      "%llu\n",
      static_cast<unsigned long long>(c.full),
      static_cast<unsigned long long>(c.incremental),
      static_cast<unsigned long long>(c.fallback));
  return 0;
}

}  // namespace tvd::attest

int main(int argc, char** argv) { return tvd::attest::Main(argc, argv); }

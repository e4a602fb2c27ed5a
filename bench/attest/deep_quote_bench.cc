// Deep-quote latency with a real swtpm: per round, with a fresh nonce,
//   produce: what the guest agent does for one request (connect to the
//            vTPM, CreatePrimary of the AK from vtpm_ak_template.h,
//            PCR_Read, Quote, PCR_Read, FlushContext);
//   issue:   the master's signed statement (IssueVtpmStatement: ECDSA P-256
//            over the canonical text);
//   verify:  the tenant's side (encode the evidence as JSON, parse it,
//            VerifyDeepQuote: certificate chain, statement signature, the
//            claims, the quote signature and the PCR digest);
// and the sum. p50 / p99 over R rounds (--rounds R, default 200) of wall
// time, each part on its own; the quote covers PCRs 0-7 and 16
// (--pcrs LIST). No VM: the guest's virtio-serial hop is not in these
// figures (see docs/vtpm.md for the in-guest round trip).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tvd/attest/deep_quote.h"
#include "tvd/bench/must.h"
#include "tvd/guest_agent/vtpm_client.h"
#include "tvd/testing/swtpm.h"

namespace tvd::attest {
namespace {

using bench::Die;
using bench::Must;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Series {
  const char* name;
  std::vector<double> ms;
  void Print() {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
      return ms[std::min(ms.size() - 1,
                         static_cast<std::size_t>(p * ms.size()))];
    };
    std::printf("  %-8s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name,
                pct(0.50), pct(0.99), ms.back());
  }
};

int Main(int argc, char** argv) {
  int rounds = 200;
  std::string pcr_text = "0,1,2,3,4,5,6,7,16";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--pcrs") == 0) {
      pcr_text = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: bench_deep_quote [--rounds R] [--pcrs L]\n");
      return 2;
    }
  }
  auto pcrs = Must(ParsePcrList(pcr_text), "--pcrs");
  auto swtpm = Must(testing::SwtpmInstance::Start(), "start swtpm");
  std::vector<std::uint8_t> ek;
  {
    auto esys = Must(swtpm->Open(), "open swtpm");
    ek = Must(esys->EkPublic(), "EK");
  }
  const std::string spec = "tcp:127.0.0.1:" + std::to_string(swtpm->port());
  std::vector<std::uint8_t> ak;
  {
    guest_agent::VtpmClient client(Must(guest_agent::OpenTpm(spec), "tpm"));
    ak = Must(client.AkPublic(), "AK");
  }
  auto ca = Must(pki::CreateCa("vdc-bench", pki::Validity::ForDays(1)), "CA");
  auto master = Must(pki::IssueCertificate(ca, pki::Role::kHost, "tvd-master",
                                           pki::Validity::ForDays(1)),
                     "master certificate");
  auto wall = std::chrono::system_clock::now();
  VtpmBinding binding{"blue", "web1", "node1",
                      ek,     ak,     ToUnixSeconds(wall) - 60};
  HostAttestationSummary host;
  host.host = "node1";
  host.last_good = ToUnixSeconds(wall) - 10;
  DeepQuoteExpectation want;
  want.tvd = "blue";
  want.vm = "web1";

  Series produce{"produce", {}}, issue{"issue", {}}, verify{"verify", {}},
      total{"total", {}};
  std::vector<std::uint8_t> nonce(32);
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < nonce.size(); ++i) {
      nonce[i] = static_cast<std::uint8_t>(r * 31 + i);
    }
    want.nonce = nonce;
    auto t0 = Clock::now();
    guest_agent::VtpmClient client(Must(guest_agent::OpenTpm(spec), "tpm"));
    GuestQuoteAnswer answer = Must(client.Quote(nonce, pcrs), "quote");
    auto t1 = Clock::now();
    auto now = std::chrono::system_clock::now();
    SignedVtpmStatement statement =
        Must(IssueVtpmStatement(binding, host, nonce, now, master), "issue");
    auto t2 = Clock::now();
    std::string json =
        Must(EncodeDeepQuoteEvidence({statement, answer}), "encode");
    auto evidence = Must(ParseDeepQuoteEvidence(json), "parse");
    auto verified =
        Must(VerifyDeepQuote(evidence, ca.cert_pem, want, now), "verify");
    auto t3 = Clock::now();
    if (verified.pcrs.size() != pcrs.size()) {
      Die("verify", Internal("PCR count"));
    }
    produce.ms.push_back(Ms(t1 - t0));
    issue.ms.push_back(Ms(t2 - t1));
    verify.ms.push_back(Ms(t3 - t2));
    total.ms.push_back(Ms(t3 - t0));
  }
  std::printf("deep quote, %d rounds, swtpm, ECC P-256 AK, PCRs %s:\n", rounds,
              pcr_text.c_str());
  produce.Print();
  issue.Print();
  verify.Print();
  total.Print();
  return 0;
}

}  // namespace
}  // namespace tvd::attest

int main(int argc, char** argv) { return tvd::attest::Main(argc, argv); }

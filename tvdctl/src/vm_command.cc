#include "tvd/tvdctl/vm_command.h"

#include <charconv>
#include <ctime>

#include "tvd/attest/tpm_public.h"
#include "tvd/file_util.h"
#include "tvd/hex.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {
namespace {

constexpr char kUsage[] =
    "usage: tvdctl vm attest --evidence FILE --tvd TVD --vm VM --ca PEM\n"
    "                        [--nonce HEX] [--master-name NAME]\n"
    "                        [--max-age SECONDS] [--max-host-age SECONDS]\n"
    "                        [--json]\n"
    "Verifies a VM's deep-quote evidence offline against the VDC CA and\n"
    "prints the chain (docs/vtpm.md). The online form 'tvdctl vm attest TVD\n"
    "VM' comes with the vTPM binding at the master.\n";

std::string Utc(attest::UnixSeconds t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (::gmtime_r(&tt, &tm) == nullptr) return std::to_string(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool ParseSeconds(const std::string& text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out > 0 &&
         out <= 365LL * 24 * 3600;
}

int Attest(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err) {
  std::string evidence_path, ca_path, nonce_hex;
  attest::DeepQuoteExpectation want;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& to) {
      if (i + 1 >= args.size()) return false;
      to = args[++i];
      return true;
    };
    std::string seconds;
    std::int64_t n = 0;
    if (a == "--json") {
      json = true;
    } else if (a == "--evidence"      ? value(evidence_path)
               : a == "--ca"          ? value(ca_path)
               : a == "--tvd"         ? value(want.tvd)
               : a == "--vm"          ? value(want.vm)
               : a == "--nonce"       ? value(nonce_hex)
               : a == "--master-name" ? value(want.master_name)
                                      : false) {
    } else if ((a == "--max-age" || a == "--max-host-age") && value(seconds)) {
      if (!ParseSeconds(seconds, n)) {
        err << "tvdctl vm attest: " << a << " '" << seconds
            << "' is not a number of seconds 1-31536000\n";
        return kExitUsage;
      }
      (a == "--max-age" ? want.max_statement_age
                        : want.max_host_attestation_age) =
          std::chrono::seconds(n);
    } else if (!a.starts_with("--")) {
      err << "tvdctl vm attest: the online form (tvdctl vm attest TVD VM) "
             "is not wired yet; verify saved evidence with --evidence FILE\n"
          << kUsage;
      return kExitUsage;
    } else {
      err << "tvdctl vm attest: unknown or incomplete option '" << a << "'\n"
          << kUsage;
      return kExitUsage;
    }
  }
  if (evidence_path.empty() || ca_path.empty() || want.tvd.empty() ||
      want.vm.empty()) {
    err << "tvdctl vm attest: --evidence, --ca, --tvd and --vm are required\n"
        << kUsage;
    return kExitUsage;
  }
  if (!nonce_hex.empty()) {
    auto nonce = LowerHexToBytes(nonce_hex);
    if (!nonce.ok()) {
      err << "tvdctl vm attest: --nonce: " << nonce.status().message() << "\n";
      return kExitUsage;
    }
    want.nonce = std::move(*nonce);
  }
  auto text = ReadFileCapped(evidence_path, attest::kMaxDeepQuoteEvidence);
  if (!text.ok()) {
    err << "tvdctl vm attest: " << text.status().message() << "\n";
    return kExitFailure;
  }
  auto ca = ReadFileCapped(ca_path, 64 * 1024);
  if (!ca.ok()) {
    err << "tvdctl vm attest: " << ca.status().message() << "\n";
    return kExitFailure;
  }
  auto evidence = attest::ParseDeepQuoteEvidence(*text);
  if (!evidence.ok()) {
    err << "tvdctl vm attest: " << evidence_path << ": "
        << evidence.status().message() << "\n";
    return kExitFailure;
  }
  auto now = std::chrono::system_clock::now();
  auto verified = attest::VerifyDeepQuote(*evidence, *ca, want, now);
  if (json) {
    auto encoded = attest::EncodeDeepQuoteEvidence(*evidence);
    if (encoded.ok()) out << *encoded;
  }
  if (!verified.ok()) {
    err << "tvdctl vm attest: " << verified.status().message() << "\n";
    return kExitFailure;
  }
  if (!json) out << FormatDeepQuoteChain(*verified, !want.nonce.empty(), now);
  return kExitOk;
}

}  // namespace

std::string FormatDeepQuoteChain(const attest::VerifiedDeepQuote& v,
                                 bool nonce_checked,
                                 std::chrono::system_clock::time_point now) {
  const attest::VtpmStatement& s = v.statement;
  std::string out;
  auto line = [&out](const std::string& key, const std::string& value) {
    out += "  " + key +
           std::string(key.size() < 14 ? 14 - key.size() : 1, ' ') + value +
           "\n";
  };
  out += "deep quote verified: VM " + s.vm + " of TVD " + s.tvd + "\n";
  line("master", v.master.ToString() + ", certificate of the VDC CA");
  line("statement",
       "issued " + Utc(s.issued_at) + " (" +
           std::to_string(attest::ToUnixSeconds(now) - s.issued_at) +
           " s ago)");
  line("host", s.host + " (" +
                   std::string(attest::HostMembershipName(s.host_state)) + ")");
  line("attested", Utc(s.host_attested_at) + " (" +
                       std::to_string(s.issued_at - s.host_attested_at) +
                       " s before the statement)");
  line("host PCRs", ToHex(s.host_pcr_digest));
  line("policy", ToHex(s.host_policy_digest));
  line("vTPM EK", "sha256 " + ToHex(s.vtpm_ek_digest) + ", bound " +
                      Utc(s.binding_created));
  auto name = attest::TpmObjectName(s.vtpm_ak);
  line("vTPM AK", "name " + (name.ok() ? ToHex(*name) : std::string("?")));
  line("nonce",
       ToHex(s.nonce) + (nonce_checked ? " (the one asked for)"
                                       : " (not checked: no --nonce; freshness "
                                         "rests on the issue time)"));
  line("vTPM clock", "reset " + std::to_string(v.reset_count) + ", restart " +
                         std::to_string(v.restart_count));
  for (const attest::PcrValue& p : v.pcrs) {
    line("PCR " + std::to_string(p.index), ToHex(p.value));
  }
  return out;
}

int RunVmCommand(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "attest") return Attest(args, out, err);
  err << "tvdctl vm: unknown command '" << args[0] << "'\n" << kUsage;
  return kExitUsage;
}

}  // namespace tvd::tvdctl

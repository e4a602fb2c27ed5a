#include "tvd/tvdctl/vm_command.h"

#include <charconv>
#include <ctime>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tvd/attest/guest_quote.h"
#include "tvd/atomic_file.h"
#include "tvd/attest/tpm_public.h"
#include "tvd/channel/tls_context.h"
#include "tvd/daemon/endpoint_list.h"
#include "tvd/file_util.h"
#include "tvd/hex.h"
#include "tvd/pki/identity.h"
#include "tvd/protocol/tenant_client.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/host_command.h"

namespace tvd::tvdctl {
namespace {

constexpr char kUsage[] =
    "usage: tvdctl vm attest TVD VM --master ADDRESS:PORT[,...] --ca PEM\n"
    "                        --cert PEM --key PEM [--pcrs N,N,...]\n"
    "                        [--master-name NAME] [--save FILE]\n"
    "                        [--max-age SECONDS] [--max-host-age SECONDS]\n"
    "                        [--json]\n"
    "       tvdctl vm attest --evidence FILE --tvd TVD --vm VM --ca PEM\n"
    "                        [--nonce HEX] [--master-name NAME]\n"
    "                        [--max-age SECONDS] [--max-host-age SECONDS]\n"
    "                        [--json]\n"
    "The first form asks the master (with the tenant certificate) for the\n"
    "deep quote of the VM over a nonce tvdctl draws, verifies the chain\n"
    "against the VDC CA and prints it; --save keeps the evidence. The\n"
    "second verifies saved evidence offline (docs/vtpm.md).\n";

// The PCRs a deep quote covers unless --pcrs says otherwise: the guest
// firmware's and boot loader's (the TCG PC Client assignment).
constexpr char kDefaultPcrs[] = "0,1,2,3,4,5,6,7";
constexpr std::size_t kNonceBytes = 32;

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

struct AttestArgs {
  std::vector<std::string> operands;  // TVD VM (the online form)
  std::string evidence_path, ca_path, nonce_hex, master, cert_path, key_path,
      save_path;
  std::string pcrs = kDefaultPcrs;
  attest::DeepQuoteExpectation want;
  bool json = false;
};

// Usage errors as InvalidArgument with the message to print.
StatusOr<AttestArgs> ParseAttestArgs(const std::vector<std::string>& args) {
  AttestArgs a;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& to) {
      if (i + 1 >= args.size()) return false;
      to = args[++i];
      return true;
    };
    std::string seconds;
    std::int64_t n = 0;
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--evidence"      ? value(a.evidence_path)
               : arg == "--ca"          ? value(a.ca_path)
               : arg == "--tvd"         ? value(a.want.tvd)
               : arg == "--vm"          ? value(a.want.vm)
               : arg == "--nonce"       ? value(a.nonce_hex)
               : arg == "--master-name" ? value(a.want.master_name)
               : arg == "--master"      ? value(a.master)
               : arg == "--cert"        ? value(a.cert_path)
               : arg == "--key"         ? value(a.key_path)
               : arg == "--pcrs"        ? value(a.pcrs)
               : arg == "--save"        ? value(a.save_path)
                                        : false) {
    } else if ((arg == "--max-age" || arg == "--max-host-age") &&
               value(seconds)) {
      if (!ParseSeconds(seconds, n)) {
        return InvalidArgument(arg + " '" + seconds +
                               "' is not a number of seconds 1-31536000");
      }
      (arg == "--max-age" ? a.want.max_statement_age
                          : a.want.max_host_attestation_age) =
          std::chrono::seconds(n);
    } else if (!arg.starts_with("--")) {
      a.operands.push_back(arg);
    } else {
      return InvalidArgument("unknown or incomplete option '" + arg + "'");
    }
  }
  if (!a.operands.empty()) {
    if (a.operands.size() != 2) {
      return InvalidArgument("the online form takes TVD and VM, got " +
                             std::to_string(a.operands.size()) + " operands");
    }
    if (!a.evidence_path.empty() || !a.nonce_hex.empty() ||
        !a.want.tvd.empty() || !a.want.vm.empty()) {
      return InvalidArgument(
          "--evidence, --nonce, --tvd and --vm belong to the offline form; "
          "the online form draws its own nonce");
    }
    if (a.master.empty() || a.ca_path.empty() || a.cert_path.empty() ||
        a.key_path.empty()) {
      return InvalidArgument(
          "--master, --ca, --cert and --key (the tenant certificate) are "
          "required");
    }
    a.want.tvd = a.operands[0];
    a.want.vm = a.operands[1];
    return a;
  }
  if (!a.master.empty() || !a.cert_path.empty() || !a.key_path.empty() ||
      !a.save_path.empty() || a.pcrs != kDefaultPcrs) {
    return InvalidArgument(
        "--master, --cert, --key, --pcrs and --save belong to the online "
        "form (tvdctl vm attest TVD VM)");
  }
  if (a.evidence_path.empty() || a.ca_path.empty() || a.want.tvd.empty() ||
      a.want.vm.empty()) {
    return InvalidArgument("--evidence, --ca, --tvd and --vm are required");
  }
  if (!a.nonce_hex.empty()) {
    auto nonce = LowerHexToBytes(a.nonce_hex);
    if (!nonce.ok()) return nonce.status().WithContext("--nonce");
    a.want.nonce = std::move(nonce).value();
  }
  return a;
}

// The online form: the evidence from the master, over a fresh nonce.
// Exit code kExitOk with `evidence` set, or the code to return (the
// message printed).
int FetchEvidence(AttestArgs& a, const std::string& ca, std::string& evidence,
                  std::ostream& err) {
  auto pcrs = attest::ParsePcrList(a.pcrs);
  if (!pcrs.ok()) {
    err << "tvdctl vm attest: --pcrs: " << pcrs.status().message() << "\n";
    return kExitUsage;
  }
  auto endpoints = daemon::ParseEndpointList(a.master);
  if (!endpoints.ok()) {
    err << "tvdctl vm attest: --master: " << endpoints.status().message()
        << "\n";
    return kExitUsage;
  }
  channel::TlsCredentials creds;
  creds.ca_cert_pem = ca;
  Status loaded = [&]() -> Status {
    TVD_ASSIGN_OR_RETURN(creds.cert_pem,
                         ReadFileCapped(a.cert_path, 64 * 1024));
    TVD_ASSIGN_OR_RETURN(std::string key, ReadFileCapped(a.key_path, 64 * 1024));
    creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
    OPENSSL_cleanse(key.data(), key.size());
    return Status::Ok();
  }();
  if (!loaded.ok()) {
    err << "tvdctl vm attest: " << loaded.message() << "\n";
    return kExitFailure;
  }
  auto tls = channel::TlsContext::Create(channel::TlsSide::kClient, creds);
  creds.key_pem.Clear();
  if (!tls.ok()) {
    err << "tvdctl vm attest: tenant credentials: " << tls.status().message()
        << "\n  --cert and --key must be a matching PEM pair, --ca the VDC "
           "CA certificate\n";
    return kExitFailure;
  }
  std::vector<protocol::MasterEndpoint> masters;
  for (const daemon::Endpoint& e : *endpoints) {
    masters.push_back(
        {e.address, e.port, {pki::Role::kHost, a.want.master_name}});
  }
  a.want.nonce.resize(kNonceBytes);
  if (RAND_bytes(a.want.nonce.data(), static_cast<int>(kNonceBytes)) != 1) {
    err << "tvdctl vm attest: no random nonce (OpenSSL RAND_bytes)\n";
    return kExitFailure;
  }
  protocol::VmAttestRequest request{a.want.tvd, a.want.vm, a.want.nonce,
                                    *pcrs};
  auto json = protocol::RequestVmAttestationFromAny(masters, **tls, request);
  if (!json.ok()) {
    err << "tvdctl vm attest: " << json.status().ToString() << "\n";
    // Unavailable from tvdctl's side (no master reached) is exit 3; the
    // master's own refusals ("peer: ...") are 1.
    return json.status().code() == ErrorCode::kUnavailable &&
                   json.status().message().find("peer: ") == std::string::npos
               ? kExitUnreachable
               : kExitFailure;
  }
  evidence = std::move(json).value();
  if (!a.save_path.empty()) {
    Status saved = WriteFileAtomically(a.save_path, evidence);
    if (!saved.ok()) {
      err << "tvdctl vm attest: --save: " << saved.message() << "\n";
      return kExitFailure;
    }
  }
  return kExitOk;
}

int Attest(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err) {
  auto parsed = ParseAttestArgs(args);
  if (!parsed.ok()) {
    err << "tvdctl vm attest: " << parsed.status().message() << "\n"
        << kUsage;
    return kExitUsage;
  }
  AttestArgs& a = *parsed;
  auto ca = ReadFileCapped(a.ca_path, 64 * 1024);
  if (!ca.ok()) {
    err << "tvdctl vm attest: " << ca.status().message() << "\n";
    return kExitFailure;
  }
  std::string text;
  std::string source = a.evidence_path;
  if (a.operands.empty()) {
    auto read = ReadFileCapped(a.evidence_path, attest::kMaxDeepQuoteEvidence);
    if (!read.ok()) {
      err << "tvdctl vm attest: " << read.status().message() << "\n";
      return kExitFailure;
    }
    text = std::move(read).value();
  } else {
    source = "the master's evidence";
    if (int code = FetchEvidence(a, *ca, text, err); code != kExitOk) {
      return code;
    }
  }
  auto evidence = attest::ParseDeepQuoteEvidence(text);
  if (!evidence.ok()) {
    err << "tvdctl vm attest: " << source << ": "
        << evidence.status().message() << "\n";
    return kExitFailure;
  }
  auto now = std::chrono::system_clock::now();
  auto verified = attest::VerifyDeepQuote(*evidence, *ca, a.want, now);
  if (a.json) {
    auto encoded = attest::EncodeDeepQuoteEvidence(*evidence);
    if (encoded.ok()) out << *encoded;
  }
  if (!verified.ok()) {
    err << "tvdctl vm attest: " << verified.status().message() << "\n";
    return kExitFailure;
  }
  if (!a.json) {
    out << FormatDeepQuoteChain(*verified, !a.want.nonce.empty(), now);
  }
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

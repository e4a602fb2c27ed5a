#include "tvd/tvdctl/policy_command.h"

#include <optional>

#include "tvd/atomic_file.h"
#include "tvd/attest/event_log.h"
#include "tvd/attest/measured_boot.h"
#include "tvd/file_util.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/fig15_import.h"
#include "tvd/policy/policy_file.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/policy/vm_policy_check.h"
#include "tvd/policy/vm_template.h"
#include "tvd/policy/xml_reader.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/policy_summary.h"

namespace tvd::tvdctl {

namespace {

using tvd::policy::AnyPolicy;
using tvd::policy::VmConfigMode;

struct Subcommand {
  std::string_view name;
  std::string_view usage;
  std::string_view help;
  int (*run)(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);
};

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int Usage(std::ostream& err, std::string_view usage, std::string_view why) {
  err << "tvdctl policy: " << why << "\nusage: tvdctl policy " << usage << "\n";
  return kExitUsage;
}

int Validate(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  constexpr std::string_view kUsage = "validate [--final] FILE...";
  VmConfigMode mode = VmConfigMode::kTemplateAllowed;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a == "--final") {
      mode = VmConfigMode::kFinal;
    } else if (a.starts_with("-") && a != "-") {
      return Usage(err, kUsage, "unknown option '" + a + "'");
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return Usage(err, kUsage, "no FILE given");
  int rc = kExitOk;
  for (const std::string& f : files) {
    auto p = tvd::policy::LoadAnyPolicyFile(f, mode);
    if (!p.ok()) {
      err << p.status().message() << "\n";
      rc = kExitFailure;
      continue;
    }
    out << f << ": valid " << tvd::policy::DescribeKind(*p) << "\n";
  }
  return rc;
}

int Show(const std::vector<std::string>& args, std::ostream& out,
         std::ostream& err) {
  constexpr std::string_view kUsage = "show FILE [--json]";
  bool json = false;
  std::optional<std::string> file;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else if (a.starts_with("-")) {
      return Usage(err, kUsage, "unknown option '" + a + "'");
    } else if (file) {
      return Usage(err, kUsage, "more than one FILE");
    } else {
      file = a;
    }
  }
  if (!file) return Usage(err, kUsage, "no FILE given");
  auto p =
      tvd::policy::LoadAnyPolicyFile(*file, VmConfigMode::kTemplateAllowed);
  if (!p.ok()) {
    err << p.status().message() << "\n";
    return kExitFailure;
  }
  out << (json ? tvd::policy::ToJson(*p, 2) + "\n" : Summarize(*p));
  return kExitOk;
}

int Digest(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err) {
  constexpr std::string_view kUsage = "digest FILE";
  if (args.size() != 1 || args[0].starts_with("-")) {
    return Usage(err, kUsage, "expected exactly one FILE");
  }
  auto p =
      tvd::policy::LoadAnyPolicyFile(args[0], VmConfigMode::kTemplateAllowed);
  if (!p.ok()) {
    err << p.status().message() << "\n";
    return kExitFailure;
  }
  out << tvd::ToHex(tvd::policy::CanonicalDigest(*p)) << "\n";
  return kExitOk;
}

// Writes `data` to `out_file` if given, else to `out`.
int Emit(const std::optional<std::string>& out_file, const std::string& data,
         std::ostream& out, std::ostream& err) {
  if (!out_file) {
    out << data;
    return kExitOk;
  }
  if (tvd::Status s = WriteFileAtomically(*out_file, data); !s.ok()) {
    err << "tvdctl policy: " << s.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

// The arguments of a command with one input (`what` in errors: FILE, LOG)
// and its output on stdout or in --out F. Returns the exit code of a usage
// error, or nullopt with `input` and `out_file` set.
std::optional<int> InputAndOut(const std::vector<std::string>& args,
                               std::string_view usage, std::string_view what,
                               std::ostream& err,
                               std::optional<std::string>& input,
                               std::optional<std::string>& out_file) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out") {
      if (++i == args.size()) return Usage(err, usage, "--out needs a value");
      out_file = args[i];
    } else if (args[i].starts_with("-")) {
      return Usage(err, usage, "unknown option '" + args[i] + "'");
    } else if (input) {
      return Usage(err, usage, "more than one " + std::string(what));
    } else {
      input = args[i];
    }
  }
  if (!input) return Usage(err, usage, "no " + std::string(what) + " given");
  return std::nullopt;
}

int ImportFig15(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  constexpr std::string_view kUsage = "import-fig15 FILE [--out F]";
  std::optional<std::string> file, out_file;
  if (auto code = InputAndOut(args, kUsage, "FILE", err, file, out_file)) {
    return *code;
  }
  auto text = tvd::policy::ReadPolicyFile(*file);
  if (!text.ok()) {
    err << text.status().message() << "\n";
    return kExitFailure;
  }
  auto imported = tvd::policy::ImportFig15(*text, *file);
  if (!imported.ok()) {
    err << imported.status().message() << "\n";
    return kExitFailure;
  }
  for (const std::string& note : imported->notes) {
    err << note << "\n";
  }
  return Emit(out_file, imported->xml, out, err);
}

// Splits "KEY=VALUE"; nullopt when there is no '=' or either side is empty.
std::optional<std::pair<std::string, std::string>> SplitBinding(
    const std::string& s) {
  const std::size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) {
    return std::nullopt;
  }
  return std::make_pair(s.substr(0, eq), s.substr(eq + 1));
}

int Derive(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err) {
  constexpr std::string_view kUsage =
      "derive --template T --name NAME [--uuid U] [--kernel PATH] "
      "[--initrd PATH] [--disk TARGET=PATH]... [--net VNET=NETWORK]... "
      "[--out FILE]";
  std::optional<std::string> tmpl, out_file;
  tvd::policy::DeriveParams params;
  bool have_name = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& opt = args[i];
    if (i + 1 == args.size()) {
      return Usage(err, kUsage,
                   opt.starts_with("--") ? opt + " needs a value"
                                         : "unexpected argument '" + opt + "'");
    }
    const std::string& value = args[++i];
    if (opt == "--template") {
      tmpl = value;
    } else if (opt == "--name") {
      params.name = value;
      have_name = true;
    } else if (opt == "--uuid") {
      params.uuid = value;
    } else if (opt == "--kernel") {
      params.kernel_path = value;
    } else if (opt == "--initrd") {
      params.initrd_path = value;
    } else if (opt == "--out") {
      out_file = value;
    } else if (opt == "--disk" || opt == "--net") {
      auto binding = SplitBinding(value);
      if (!binding) {
        return Usage(err, kUsage,
                     opt + " expects " +
                         (opt == "--disk" ? "TARGET=PATH" : "VNET=NETWORK") +
                         ", got '" + value + "'");
      }
      (opt == "--disk" ? params.disks : params.networks)
          .push_back(std::move(*binding));
    } else {
      return Usage(err, kUsage, "unknown option '" + opt + "'");
    }
  }
  if (!tmpl) return Usage(err, kUsage, "--template is required");
  if (!have_name) return Usage(err, kUsage, "--name is required");
  auto text = tvd::policy::ReadPolicyFile(*tmpl);
  if (!text.ok()) {
    err << text.status().message() << "\n";
    return kExitFailure;
  }
  auto derived = tvd::policy::DeriveVm(*text, *tmpl, params);
  if (!derived.ok()) {
    err << "tvdctl policy derive: " << derived.status().message() << "\n";
    return kExitFailure;
  }
  return Emit(out_file, derived->xml, out, err);
}

int CheckVm(const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  constexpr std::string_view kUsage =
      "check-vm VM_FILE --policy TVD_POLICY [--peer TVD_POLICY]...";
  std::optional<std::string> vm_file, policy_file;
  std::vector<std::string> peer_files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--policy" || args[i] == "--peer") {
      if (i + 1 == args.size()) {
        return Usage(err, kUsage, args[i] + " needs a value");
      }
      if (args[i] == "--policy") {
        policy_file = args[++i];
      } else {
        peer_files.push_back(args[++i]);
      }
    } else if (args[i].starts_with("-")) {
      return Usage(err, kUsage, "unknown option '" + args[i] + "'");
    } else if (vm_file) {
      return Usage(err, kUsage, "more than one VM_FILE");
    } else {
      vm_file = args[i];
    }
  }
  if (!vm_file) return Usage(err, kUsage, "no VM_FILE given");
  if (!policy_file) return Usage(err, kUsage, "--policy is required");
  auto vm = tvd::policy::LoadVmConfigFile(*vm_file, VmConfigMode::kFinal);
  if (!vm.ok()) {
    err << vm.status().message() << "\n";
    return kExitFailure;
  }
  auto owner = tvd::policy::LoadTvdPolicyFile(*policy_file);
  if (!owner.ok()) {
    err << owner.status().message() << "\n";
    return kExitFailure;
  }
  std::vector<tvd::policy::TvdPolicy> peers;
  for (const std::string& f : peer_files) {
    auto peer = tvd::policy::LoadTvdPolicyFile(f);
    if (!peer.ok()) {
      err << peer.status().message() << "\n";
      return kExitFailure;
    }
    peers.push_back(std::move(*peer));
  }
  if (tvd::Status s = tvd::policy::CheckVmAgainstPolicies(*vm, *owner, peers);
      !s.ok()) {
    err << *vm_file << ": refused: " << s.message() << "\n";
    return kExitFailure;
  }
  out << *vm_file << ": VM '" << vm->name << "' is allowed by TVD '"
      << owner->name << "'\n";
  return kExitOk;
}

// `text` inside an XML comment: "--" is not allowed there, nor are control
// characters wanted.
std::string CommentSafe(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (c == '-' && !out.empty() && out.back() == '-') out += ' ';
    out += c;
  }
  if (!out.empty() && out.back() == '-') out += ' ';
  return out;
}

// One line per digest, with what the log says it is, so the reviewer can
// tell a firmware volume from a boot loader.
std::string DraftXml(const tvd::attest::MeasuredBootPolicy& p,
                     const tvd::attest::EventLog& log,
                     const std::string& source) {
  using tvd::attest::TcgEvent;
  auto where = [&log](std::uint32_t pcr, const tvd::Sha256Digest& d) {
    for (const TcgEvent& e : log.events) {
      if (e.pcr == pcr && e.sha256 == d) {
        return "event " + std::to_string(e.number) + ", " +
               tvd::attest::EventTypeName(e.type);
      }
    }
    return std::string("value of a PCR 7 variable");
  };
  std::string x =
      "<!-- Drafted by 'tvdctl policy measured-boot' from " +
      CommentSafe(source) +
      ".\n"
      "     The draft allows exactly what this log shows. Use a log of a host\n"
      "     known to be good, whose replay matched its quote; review every\n"
      "     digest, and add those of updates you expect. -->\n";
  x += std::string("<measured-boot secure-boot=\"") +
       (p.require_secure_boot ? "required" : "not-required") + "\">\n";
  auto list = [&](std::string_view element,
                  const std::vector<tvd::Sha256Digest>& digests,
                  std::uint32_t pcr) {
    for (const tvd::Sha256Digest& d : digests) {
      x += "  <" + std::string(element) + " sha256=\"" + tvd::ToHex(d) +
           "\"/>  <!-- PCR " + std::to_string(pcr) + ", " + where(pcr, d) +
           " -->\n";
    }
  };
  list("firmware", p.firmware, 0);
  list("shim", p.shim, 4);
  list("bootloader", p.bootloader, 4);
  list("kernel", p.kernel, 4);
  for (auto [element, digests] :
       {std::pair{"pk", &p.pk}, std::pair{"kek", &p.kek},
        std::pair{"db", &p.db}, std::pair{"dbx", &p.dbx}}) {
    for (const tvd::Sha256Digest& d : *digests) {
      x += "  <" + std::string(element) + " sha256=\"" + tvd::ToHex(d) +
           "\"/>  <!-- SHA-256 of the variable's value -->\n";
    }
  }
  for (const auto& e : p.events) {
    x += "  <event pcr=\"" + std::to_string(e.pcr) + "\" type=\"" +
         tvd::attest::EventTypeName(e.type) + "\" sha256=\"" +
         tvd::ToHex(e.sha256) + "\"/>  <!-- " + where(e.pcr, e.sha256) +
         " -->\n";
  }
  x += "</measured-boot>\n";
  return x;
}

int MeasuredBoot(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  constexpr std::string_view kUsage = "measured-boot LOG [--out F]";
  std::optional<std::string> file, out_file;
  if (auto code = InputAndOut(args, kUsage, "LOG", err, file, out_file)) {
    return *code;
  }
  auto bytes = tvd::ReadFileCapped(*file, tvd::attest::kMaxEventLogBytes);
  if (!bytes.ok()) {
    err << "tvdctl policy: " << bytes.status().message() << "\n";
    return kExitFailure;
  }
  std::span<const std::uint8_t> data(
      reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size());
  auto log = tvd::attest::ParseEventLog(data);
  if (!log.ok()) {
    err << *file << ": " << log.status().message() << "\n";
    return kExitFailure;
  }
  auto draft = tvd::attest::DraftMeasuredBootPolicy(*log);
  if (!draft.ok()) {
    err << *file << ": " << draft.status().message() << "\n";
    return kExitFailure;
  }
  return Emit(out_file, DraftXml(*draft, *log, *file), out, err);
}

constexpr Subcommand kSubcommands[] = {
    {"validate", "validate [--final] FILE...",
     "Checks TVD policies, host requirement templates and VM configurations\n"
     "(templates allowed unless --final). Prints FILE:LINE: message for each\n"
     "invalid file. Exit 0 if all are valid, 1 otherwise.\n",
     &Validate},
    {"show", "show FILE [--json]",
     "Prints what a policy file defines, or with --json its canonical\n"
     "content as indented JSON.\n",
     &Show},
    {"derive",
     "derive --template T --name NAME [--uuid U] [--kernel PATH] "
     "[--initrd PATH]\n"
     "       [--disk TARGET=PATH]... [--net VNET=NETWORK]... [--out FILE]",
     "Fills a VM template: name, UUID (random if not given), image paths and\n"
     "network bindings, then every listed measure: kernel/initrd/disk by\n"
     "hashing the image files, config by hashing the canonical domain\n"
     "without TVD metadata. Writes the VM configuration to FILE or stdout.\n",
     &Derive},
    {"import-fig15", "import-fig15 FILE [--out F]",
     "Converts a VM configuration in the figure-15 form (<owner type='tvd'>,\n"
     "<security mode='tvd'>) into libvirt domain XML with TVD metadata.\n"
     "Notes about what was mapped or dropped go to stderr.\n",
     &ImportFig15},
    {"check-vm", "check-vm VM_FILE --policy TVD_POLICY [--peer TVD_POLICY]...",
     "Checks a final VM configuration against its TVD's policy: the VM is\n"
     "listed with exactly the declared measures and digests, its vnets are\n"
     "on the TVD's networks (or on a peer's, where both policies allow the\n"
     "VM as a gateway), and encrypted disks get a key. Exit 0 allowed, 1\n"
     "refused or invalid.\n",
     &CheckVm},
    {"digest", "digest FILE",
     "Prints the SHA-256 of the file's canonical form (lower-case hex); it\n"
     "changes only when a semantic value changes.\n",
     &Digest},
    {"measured-boot", "measured-boot LOG [--out F]",
     "Drafts a <measured-boot> element for host requirements from a known-\n"
     "good host's UEFI event log (binary_bios_measurements): its firmware,\n"
     "shim, boot loader and kernel digests, Secure Boot state and keys, and\n"
     "other events of PCRs 0-7. For an administrator to review before use.\n",
     &MeasuredBoot},
};

void PrintPolicyHelp(std::ostream& out) {
  out << "usage: tvdctl policy COMMAND [ARGS...]\n\nCommands:\n";
  for (const Subcommand& s : kSubcommands) {
    out << "  " << s.usage << "\n";
  }
  out << "\n'tvdctl policy COMMAND --help' describes one command.\n";
}

}  // namespace

int RunPolicyCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  if (args.empty()) {
    PrintPolicyHelp(err);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintPolicyHelp(out);
    return kExitOk;
  }
  for (const Subcommand& s : kSubcommands) {
    if (s.name != args[0]) continue;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (WantsHelp(rest)) {
      out << "usage: tvdctl policy " << s.usage << "\n\n" << s.help;
      return kExitOk;
    }
    return s.run(rest, out, err);
  }
  err << "tvdctl policy: unknown command '" << args[0]
      << "' (see 'tvdctl policy --help')\n";
  return kExitUsage;
}

}  // namespace tvd::tvdctl

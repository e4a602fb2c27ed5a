#include "tvd/tvdctl/pki_command.h"

#include <optional>

#include "tvd/pki/certificate_authority.h"
#include "tvd/pki/pki_directory.h"

namespace tvd::tvdctl {
namespace {

constexpr const char* kUsage =
    "usage: tvdctl pki init --dir DIR [--name NAME]\n"
    "       tvdctl pki issue host|admin|tenant NAME --dir DIR [--san SAN]...\n"
    "\n"
    "  init   create a VDC certificate authority in DIR (ca.key mode 0600,\n"
    "         ca.crt); NAME defaults to 'vdc'\n"
    "  issue  issue a certificate with subject OU=<role>, CN=NAME signed by\n"
    "         the CA in DIR, written as DIR/<role>-NAME.{key,crt}; each\n"
    "         --san DNS:<name> or IP:<address> adds a subject alternative\n"
    "         name (the names TLS clients reach a host certificate at)\n"
    "Existing files are never overwritten.\n";

struct Parsed {
  std::vector<std::string> positional;
  std::optional<std::string> dir;
  std::optional<std::string> name;
  std::vector<std::string> sans;
  bool help = false;
};

// Splits flags from positional words. Returns an error text on bad usage.
std::optional<std::string> Parse(const std::vector<std::string>& args,
                                 Parsed& p) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      p.help = true;
    } else if (a == "--dir" || a == "--name") {
      if (i + 1 >= args.size()) return a + " needs a value";
      (a == "--dir" ? p.dir : p.name) = args[++i];
    } else if (a == "--san") {
      if (i + 1 >= args.size()) return a + " needs a value";
      p.sans.push_back(args[++i]);
    } else if (a.rfind("--san=", 0) == 0) {
      p.sans.push_back(a.substr(6));
    } else if (a.rfind("--dir=", 0) == 0) {
      p.dir = a.substr(6);
    } else if (a.rfind("--name=", 0) == 0) {
      p.name = a.substr(7);
    } else if (a.rfind("-", 0) == 0) {
      return "unknown option " + a;
    } else {
      p.positional.push_back(a);
    }
  }
  return std::nullopt;
}

int Usage(std::ostream& err, const std::string& why) {
  err << "tvdctl pki: " << why << "\n" << kUsage;
  return 2;
}

int Report(const Status& s, std::ostream& err) {
  err << "tvdctl pki: " << s.message() << "\n";
  return 1;
}

}  // namespace

int RunPkiCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  Parsed p;
  if (auto bad = Parse(args, p)) return Usage(err, *bad);
  if (p.help) {
    out << kUsage;
    return 0;
  }
  if (p.positional.empty()) return Usage(err, "missing subcommand");
  const std::string& sub = p.positional[0];
  if (sub == "init") {
    if (p.positional.size() != 1) return Usage(err, "init takes no arguments");
    if (!p.sans.empty()) return Usage(err, "--san goes with issue, not init");
    if (!p.dir || p.dir->empty()) return Usage(err, "init needs --dir DIR");
    auto files = pki::InitCaDirectory(*p.dir, p.name.value_or("vdc"));
    if (!files.ok()) return Report(files.status(), err);
    out << "created CA " << files->cert_path << " (key " << files->key_path
        << ")\n";
    return 0;
  }
  if (sub == "issue") {
    if (p.name)
      return Usage(err, "issue takes NAME as an argument, not --name");
    if (p.positional.size() != 3) {
      return Usage(err, "issue needs a role and a NAME");
    }
    if (!p.dir || p.dir->empty()) return Usage(err, "issue needs --dir DIR");
    auto role = pki::ParseRole(p.positional[1]);
    if (!role.ok()) return Usage(err, role.status().message());
    for (const std::string& san : p.sans) {
      Status bad = pki::CheckSubjectAltName(san);
      if (!bad.ok()) return Usage(err, bad.message());
    }
    auto files =
        pki::IssueIntoDirectory(*p.dir, *role, p.positional[2], 825, p.sans);
    if (!files.ok()) return Report(files.status(), err);
    out << "issued " << files->cert_path << " (key " << files->key_path
        << ")\n";
    return 0;
  }
  return Usage(err, "unknown subcommand '" + sub + "'");
}

}  // namespace tvd::tvdctl

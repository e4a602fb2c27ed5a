#include "tvd/master/authorization.h"

#include <fstream>
#include <sstream>

#include "tvd/sha256.h"
#include "tvd/text.h"

namespace tvd::master {
namespace {

// `subject` names `who`: exactly one CN, equal to who's name, and every
// OU equal to `ou` (who's role).
bool SubjectNames(std::string_view subject, const pki::Identity& who,
                  std::string_view ou) {
  bool cn_matches = false;
  int cn_count = 0;
  while (!subject.empty()) {
    std::size_t comma = subject.find(',');
    std::string_view rdn = TrimWhitespace(subject.substr(0, comma));
    subject = comma == std::string_view::npos ? std::string_view()
                                              : subject.substr(comma + 1);
    std::size_t eq = rdn.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = TrimWhitespace(rdn.substr(0, eq));
    std::string_view value = TrimWhitespace(rdn.substr(eq + 1));
    if (key == "CN") {
      ++cn_count;
      cn_matches = value == who.name;
    } else if (key == "OU" && value != ou) {
      return false;
    }
  }
  return cn_count == 1 && cn_matches;
}

}  // namespace

bool SubjectNamesHost(std::string_view subject, const pki::Identity& host) {
  return host.role == pki::Role::kHost && SubjectNames(subject, host, "host");
}

bool SubjectNamesTenant(std::string_view subject,
                        const pki::Identity& tenant) {
  return tenant.role == pki::Role::kTenant &&
         SubjectNames(subject, tenant, "tenant");
}

std::set<std::string> AuthorizedHostNames(const policy::TvdPolicy& policy) {
  std::set<std::string> names;
  for (const std::string& subject : policy.authorized_hosts) {
    // The only name a subject can admit is its CN value; SubjectNamesHost
    // then decides with its full rules.
    std::string_view rest = subject;
    std::string candidate;
    bool have_cn = false;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view rdn = TrimWhitespace(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view()
                                             : rest.substr(comma + 1);
      std::size_t eq = rdn.find('=');
      if (eq == std::string_view::npos) break;
      if (TrimWhitespace(rdn.substr(0, eq)) == "CN") {
        candidate = std::string(TrimWhitespace(rdn.substr(eq + 1)));
        have_cn = true;
      }
    }
    if (have_cn && SubjectNamesHost(subject, {pki::Role::kHost, candidate})) {
      names.insert(candidate);
    }
  }
  return names;
}

Status AuthorizeHost(const policy::TvdPolicy& policy,
                     const pki::Identity& peer) {
  if (peer.role != pki::Role::kHost) {
    return PermissionDenied(peer.ToString() + " is not a host");
  }
  for (const std::string& subject : policy.authorized_hosts) {
    if (SubjectNamesHost(subject, peer)) return Status::Ok();
  }
  return PermissionDenied("host " + peer.name + " is not authorized for TVD " +
                          policy.name);
}

StatusOr<attest::TcbRequirements> RequirementsFor(
    const policy::TvdPolicy& policy) {
  const policy::HostRequirements& hr = policy.host_requirements;
  attest::TcbRequirements req;
  req.allow_no_tpm = hr.allow_no_tpm;
  req.interval = std::chrono::seconds(hr.attestation_interval_seconds);
  for (const policy::PcrRequirement& p : hr.pcrs) {
    req.pcrs.push_back({static_cast<std::uint32_t>(p.index), p.known_good});
  }
  if (hr.measured_boot) {
    const policy::MeasuredBootRequirement& mb = *hr.measured_boot;
    attest::MeasuredBootPolicy& out = req.measured_boot.emplace();
    out.require_secure_boot = mb.require_secure_boot;
    out.firmware = mb.firmware;
    out.shim = mb.shim;
    out.bootloader = mb.bootloader;
    out.kernel = mb.kernel;
    out.pk = mb.pk;
    out.kek = mb.kek;
    out.db = mb.db;
    out.dbx = mb.dbx;
    for (const policy::MeasuredBootRequirement::Event& e : mb.events) {
      out.events.push_back(
          {static_cast<std::uint32_t>(e.pcr), e.type, e.sha256});
    }
  }
  if (hr.ima_allowlist) {
    const std::string& path = hr.ima_allowlist->path;
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("IMA allowlist " + path + " cannot be read");
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    Sha256Digest digest = Sha256(text);
    if (digest != hr.ima_allowlist->sha256) {
      return InvalidArgument("IMA allowlist " + path + " has digest " +
                             ToHex(digest) + ", the policy pins " +
                             ToHex(hr.ima_allowlist->sha256));
    }
    attest::ImaAllowlist list;
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
      ++number;
      std::string_view l = TrimWhitespace(line);
      if (l.empty() || l.front() == '#') continue;
      std::size_t space = l.find(' ');
      auto d = Sha256FromHex(l.substr(0, space));
      std::string_view file = space == std::string_view::npos
                                  ? ""
                                  : TrimWhitespace(l.substr(space + 1));
      if (!d.ok() || file.empty() ||
          (file.front() != '/' && file != "boot_aggregate")) {
        return InvalidArgument(path + ":" + std::to_string(number) +
                               ": expected '<sha256 hex> <absolute path>'");
      }
      list.Allow(file, *d);
    }
    req.ima = std::move(list);
  }
  return req;
}

}  // namespace tvd::master

#include "tvd/libvirt_filter/ownership_source.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/text.h"

namespace tvd::libvirt_filter {

std::vector<std::string> SplitSubject(std::string_view subject) {
  std::vector<std::string> parts;
  std::string current;
  auto flush = [&] {
    std::string part(TrimWhitespace(current));
    current.clear();
    if (part.empty()) return;
    std::size_t eq = part.find('=');
    if (eq != std::string::npos) {
      std::string key(TrimWhitespace(std::string_view(part).substr(0, eq)));
      std::string value(TrimWhitespace(std::string_view(part).substr(eq + 1)));
      for (char& c : key) c = static_cast<char>(std::toupper(c));
      part = key + "=" + value;
    }
    parts.push_back(std::move(part));
  };
  for (std::size_t i = 0; i < subject.size(); ++i) {
    char c = subject[i];
    if (c == '\\' && i + 1 < subject.size()) {
      current.push_back(c);
      current.push_back(subject[++i]);
    } else if (c == ',' || c == '/') {
      flush();
    } else {
      current.push_back(c);
    }
  }
  flush();
  return parts;
}

bool SameSubject(std::string_view a, std::string_view b) {
  std::vector<std::string> pa = SplitSubject(a);
  std::vector<std::string> pb = SplitSubject(b);
  if (pa.empty() || pa.size() != pb.size()) return false;
  if (pa == pb) return true;
  std::reverse(pb.begin(), pb.end());
  return pa == pb;
}

TenantScope ScopeFromPolicy(const tvd::policy::TvdPolicy& policy,
                            std::string_view storage_root,
                            const HostConfinement& host) {
  TenantScope scope;
  scope.tvd = policy.name;
  std::string root(storage_root);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  scope.storage_path = root + "/" + policy.name;
  for (const auto& n : policy.networks) scope.networks.push_back(n.name);
  scope.emulator = host.emulator;
  scope.graphics = host.graphics;
  scope.quota = policy.per_host_quota;
  scope.total_quota = policy.total_quota;
  return scope;
}

StaticOwnership::StaticOwnership(std::vector<tvd::policy::TvdPolicy> policies,
                                 std::string storage_root, HostConfinement host)
    : policies_(std::move(policies)),
      storage_root_(std::move(storage_root)),
      host_(std::move(host)) {}

StatusOr<TenantScope> StaticOwnership::ScopeForSubject(
    std::string_view subject) const {
  const tvd::policy::TvdPolicy* found = nullptr;
  for (const auto& p : policies_) {
    if (!SameSubject(p.owner, subject)) continue;
    if (found != nullptr) {
      return FailedPrecondition("tenant '" + std::string(subject) +
                                "' owns more than one TVD (" + found->name +
                                ", " + p.name + ")");
    }
    found = &p;
  }
  if (found == nullptr) {
    return NotFound("no TVD policy names '" + std::string(subject) +
                    "' as its owner");
  }
  return ScopeOf(*found);
}

TenantScope StaticOwnership::ScopeOf(
    const tvd::policy::TvdPolicy& policy) const {
  TenantScope scope = ScopeFromPolicy(policy, storage_root_, host_);
  for (const auto& p : policies_) {
    if (p.name.starts_with(policy.name + "-")) {
      scope.nested_tvds.push_back(p.name);
    }
  }
  return scope;
}

std::vector<TenantScope> StaticOwnership::AllScopes() const {
  std::vector<TenantScope> out;
  for (const auto& p : policies_) out.push_back(ScopeOf(p));
  return out;
}

StatusOr<std::unique_ptr<StaticOwnership>> LoadPolicyDirectory(
    const std::string& dir, const std::string& storage_root,
    const HostConfinement& host) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  if (ec) return IoError(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<tvd::policy::TvdPolicy> policies;
  for (const auto& f : files) {
    TVD_ASSIGN_OR_RETURN(tvd::policy::TvdPolicy p,
                         tvd::policy::LoadTvdPolicyFile(f.string()));
    policies.push_back(std::move(p));
  }
  return std::make_unique<StaticOwnership>(std::move(policies), storage_root,
                                           host);
}

}  // namespace tvd::libvirt_filter

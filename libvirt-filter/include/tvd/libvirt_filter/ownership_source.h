// Which TVD a tenant may see: tenant certificate subject -> TVD scope.
//
// A TVD policy's <owner subject="..."/> names the tenant. The relay asks an
// OwnershipSource once per client connection. PolicyDirectoryOwnership reads
// a directory of TVD policy files; the master can later feed the relay
// through another implementation of the same interface.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/policy/tvd_policy.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

class OwnershipSource {
 public:
  virtual ~OwnershipSource() = default;
  // The scope of the tenant whose certificate subject is `subject`.
  // NotFound when no TVD names that owner; FailedPrecondition when more than
  // one does (a tenant connection is bound to exactly one TVD).
  virtual StatusOr<TenantScope> ScopeForSubject(
      std::string_view subject) const = 0;
  // Every TVD's scope this source knows (the relay reports each TVD's usage
  // for its total quota periodically, tenant connected or not). A source
  // that cannot list them returns none: usage is then reported only for
  // TVDs whose tenants made calls.
  virtual std::vector<TenantScope> AllScopes() const { return {}; }
};

// Splits a distinguished name "CN=a, O=b" into its "KEY=value" parts
// (attribute keys upper-cased, spaces around ',' and '=' dropped, "\,"
// kept as an escaped comma).
std::vector<std::string> SplitSubject(std::string_view subject);

// True when the two subjects have the same parts in the same order or in
// reverse order (RFC 4514 strings list the last RDN first, OpenSSL's
// one-line form the first).
bool SameSubject(std::string_view a, std::string_view b);

// The scope of `policy`: its name, its network names, its per-host quota,
// the storage path `storage_root`/<tvd name> (TVD policies carry no storage
// element yet), and the host's emulator and graphics rules from `host`.
TenantScope ScopeFromPolicy(const tvd::policy::TvdPolicy& policy,
                            std::string_view storage_root,
                            const HostConfinement& host = {});

// An ownership source over fixed policies (tests, or a snapshot fed by the
// master). A scope also lists the other policies' TVDs nested in its
// namespace (TenantScope::nested_tvds).
class StaticOwnership : public OwnershipSource {
 public:
  StaticOwnership(std::vector<tvd::policy::TvdPolicy> policies,
                  std::string storage_root, HostConfinement host = {});
  StatusOr<TenantScope> ScopeForSubject(
      std::string_view subject) const override;
  std::vector<TenantScope> AllScopes() const override;

 private:
  TenantScope ScopeOf(const tvd::policy::TvdPolicy& policy) const;
  std::vector<tvd::policy::TvdPolicy> policies_;
  std::string storage_root_;
  HostConfinement host_;
};

// Loads every *.xml file of `dir` as a TVD policy (strict parser). Fails
// with the first file's error: a policy that does not parse is never
// silently skipped.
StatusOr<std::unique_ptr<StaticOwnership>> LoadPolicyDirectory(
    const std::string& dir, const std::string& storage_root,
    const HostConfinement& host = {});

}  // namespace tvd::libvirt_filter

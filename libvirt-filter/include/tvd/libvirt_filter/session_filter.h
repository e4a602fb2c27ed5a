// The relay's decisions for one tenant connection, as a pure object with no
// I/O of its own: every packet from the tenant and every packet from the
// tenant's upstream libvirtd connection goes through it, and it says what to
// send where. (It asks the DomainDirectory and the DiskImageChecker it is
// given; those do the I/O.)
//
// From the tenant (default deny):
//   - KEEPALIVE ping/pong: forwarded.
//   - REMOTE calls on the allow-list: forwarded, those naming a domain only
//     when the domain belongs to the tenant's TVD (else libvirtd's own
//     "domain not found" error). ConnectOpen's URI is replaced by the pinned
//     one. SetMetadata may not touch the TVD namespace. Lists of host
//     networks, storage pools, interfaces, node devices, secrets and
//     nwfilters are answered empty by the relay.
//   - Domain names and UUIDs (a foreign domain answers exactly like a
//     missing one, define and rename included):
//       * a name the tenant does not own (define/create of a new domain, a
//         rename target) must be "<tvd>-" followed by 1 to 64 of
//         [A-Za-z0-9_.-]; any other is refused with one message that does
//         not depend on whether such a domain exists (another TVD's names
//         are in its own namespace, so they never need looking up; a TVD
//         nested in this one's namespace, scope.nested_tvds, keeps its
//         names the same way). A name in the namespace held by a domain
//         the tenant does not own (an admin's misconfiguration) is refused
//         without naming the owner, and logged as a warning;
//       * the <uuid> a tenant sends never reaches libvirtd: for the
//         tenant's existing domain the relay writes that domain's UUID, for
//         a new name it removes the <uuid> so that libvirtd chooses one.
//   - Define/create XML is confined (domain_xml.h). A domain the TVD proxy
//     admitted (HasProxyAdmission on its current definition) cannot be
//     redefined, re-created or renamed through the relay.
//   - Before a tenant's domain starts (DomainCreate, CreateWithFlags,
//     CreateXML) and before a definition is stored (DefineXML,
//     DefineXMLFlags), every file disk is given to the DiskImageChecker
//     (path, format, the TVD's storage path); a refusal is "operation
//     forbidden: <checker's message>". A disk of another type with a
//     source (block, network, volume, dir, ...) is refused.
//   - DomainSetAutostart(1) is refused (libvirtd would start the domain at
//     its own start, past the relay's start-time checks); 0 is forwarded.
//   - GetDomainCapabilities only without an emulator or with the scope's
//     (libvirtd runs the binary it is given to probe it).
//   - any other procedure, any other program (QEMU, LXC, ...), and calls
//     with file descriptors: a libvirt error reply "operation forbidden".
//   - anything that is not a call or keepalive (streams, replies, other
//     messages): the connection is closed.
// From libvirtd:
//   - replies are filtered by the call they answer (lists shrunk to the
//     tenant's domains, counts recomputed, lookups of foreign domains turned
//     into "domain not found");
//   - domain events reach the tenant only for its own domains; any other
//     asynchronous message is dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tvd/libvirt_filter/disk_image_checker.h"
#include "tvd/libvirt_filter/domain_directory.h"
#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/not_found_replies.h"
#include "tvd/libvirt_filter/quota_guard.h"
#include "tvd/libvirt_filter/rpc_packet.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

struct FilterOutput {
  std::vector<std::vector<std::uint8_t>> to_upstream;
  std::vector<std::vector<std::uint8_t>> to_client;
  // Non-OK: send to_client, then close the connection; says why.
  Status close;
};

class SessionFilter {
 public:
  // `pinned_uri`: the URI every ConnectOpen is rewritten to. `cache`,
  // `directory`, `not_found` and `disks` must outlive the filter. `quota`
  // (may be null: no quota enforcement) checks defines, starts and vCPU /
  // memory changes against scope.quota (quota_guard.h); a call over quota
  // is answered "operation forbidden: quota of TVD ... exceeded: ...".
  SessionFilter(TenantScope scope, OwnershipCache& cache,
                DomainDirectory& directory, const NotFoundReplies& not_found,
                DiskImageChecker& disks, std::string pinned_uri,
                QuotaGuard* quota = nullptr);
  // Releases the quota reservations of calls still unanswered.
  ~SessionFilter();
  SessionFilter(const SessionFilter&) = delete;
  SessionFilter& operator=(const SessionFilter&) = delete;

  void OnClientPacket(Packet packet, FilterOutput& out);
  void OnUpstreamPacket(Packet packet, FilterOutput& out);

  const TenantScope& scope() const { return scope_; }
  // Calls forwarded and not yet answered.
  std::size_t pending_calls() const { return pending_.size(); }

 private:
  struct PendingCall {
    std::int32_t procedure = 0;
    std::string name;              // lookup by name
    Uuid uuid{};                   // lookup by uuid
    std::int32_t id = 0;           // lookup by id
    bool need_results = true;      // ConnectListAllDomains
    std::uint32_t flags = 0;       // ConnectListAllDomains
    std::int32_t max_results = 0;  // ConnectListDomains / ListDefinedDomains
    std::uint64_t quota_reservation = 0;  // QuotaGuard, released on reply
  };

  void Forward(Packet& packet, FilterOutput& out, PendingCall call);
  void Reply(const PacketHeader& call, std::span<const std::uint8_t> payload,
             FilterOutput& out);
  void Fail(const PacketHeader& call, const RemoteError& error,
            FilterOutput& out);
  void Deny(const PacketHeader& call, const std::string& detail,
            FilterOutput& out);
  void Malformed(const PacketHeader& call, const Status& status,
                 FilterOutput& out);

  void OnCall(Packet& packet, FilterOutput& out);
  void OnDefine(Packet& packet, bool has_flags, FilterOutput& out);
  // The rule for a name the tenant does not own (`taken`: the domain of
  // that name, if any; never one of the tenant's): OK, or PermissionDenied
  // with the refusal.
  Status CheckNewName(const std::string& name,
                      const std::optional<RemoteDomain>& taken);
  // PermissionDenied when the tenant's domain `dom` was admitted by the TVD
  // proxy (or its definition cannot be read); OK otherwise.
  Status CheckNotAdmitted(const RemoteDomain& dom);
  // OK when every disk of `xml` may be opened: PermissionDenied for a
  // non-file disk with a source or a format other than raw/qcow2, the
  // checker's error for an image it refuses, InvalidArgument for XML that
  // does not parse.
  Status CheckDisks(std::string_view xml);
  void OnReply(Packet& packet, FilterOutput& out);
  void OnEvent(Packet& packet, FilterOutput& out);
  StatusOr<std::int32_t> CountOwned(std::uint32_t flags);
  bool Owns(const RemoteDomain& dom) { return cache_.Owns(scope_.tvd, dom); }
  // Quota check of a call about to be forwarded: on OK stores the
  // reservation in `call` and returns true; otherwise answers the tenant
  // and returns false.
  bool QuotaAdmits(const PacketHeader& h, StatusOr<std::uint64_t> admitted,
                   PendingCall& call, FilterOutput& out);

  TenantScope scope_;
  OwnershipCache& cache_;
  DomainDirectory& directory_;
  const NotFoundReplies& not_found_;
  DiskImageChecker& disks_;
  std::string pinned_uri_;
  QuotaGuard* quota_;
  std::unordered_map<std::uint32_t, PendingCall> pending_;
  std::set<std::int32_t> callback_ids_;  // this tenant's domain callbacks
};

// Whether the REMOTE procedure's arguments start with a domain that must be
// the tenant's for the call to be forwarded.
bool IsOwnedDomainProcedure(std::int32_t procedure);
// Whether the procedure is forwarded without any domain check.
bool IsPassThroughProcedure(std::int32_t procedure);

// Whether `name` is in TVD `tvd`'s namespace of domain names: "<tvd>-"
// followed by 1 to 64 of [A-Za-z0-9_.-].
bool InTenantNamespace(std::string_view name, std::string_view tvd);

}  // namespace tvd::libvirt_filter

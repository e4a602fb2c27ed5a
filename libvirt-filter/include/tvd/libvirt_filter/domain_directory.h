// The relay's own, unfiltered view of libvirtd's domains (its admin-side
// connection), and the cache of who owns which domain.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/mutex.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

class DomainDirectory {
 public:
  virtual ~DomainDirectory() = default;
  // The domain's XML (libvirt's GetXMLDesc, flags 0). NotFound when libvirtd
  // has no domain with that UUID; Unavailable when libvirtd cannot be asked.
  virtual StatusOr<std::string> GetXmlDesc(const RemoteDomain& dom) = 0;
  // nullopt when no such domain.
  virtual StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string& name) = 0;
  virtual StatusOr<std::optional<RemoteDomain>> LookupByUuid(
      const Uuid& uuid) = 0;
  virtual StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t id) = 0;
  // ConnectListAllDomains with `flags`.
  virtual StatusOr<std::vector<RemoteDomain>> ListAll(std::uint32_t flags) = 0;
};

// Owner TVD per domain UUID, read from the TVD metadata in the domain XML
// and cached. Entries are dropped when libvirtd reports the domain defined,
// undefined or its metadata changed (Invalidate), so a redefinition is read
// again. Thread-safe; the directory is asked without holding the lock, and
// an answer that raced with an invalidation is returned but not cached.
class OwnershipCache {
 public:
  explicit OwnershipCache(DomainDirectory& directory) : directory_(directory) {}

  // The owner TVD ("" for a domain without TVD metadata). For a domain
  // libvirtd no longer has, the owner it last had if known, else NotFound;
  // other errors from the directory as they are.
  StatusOr<std::string> OwnerOf(const RemoteDomain& dom);
  // True only when `dom` exists and belongs to `tvd` (any error: false).
  bool Owns(const std::string& tvd, const RemoteDomain& dom);

  void Set(const Uuid& uuid, std::string owner);
  void Invalidate(const Uuid& uuid);
  void Clear();
  std::size_t size() const;

 private:
  DomainDirectory& directory_;
  mutable Mutex mu_;
  std::map<Uuid, std::string> owners_ TVD_GUARDED_BY(mu_);
  // Owners of invalidated entries, so that the events that end a domain
  // (undefined, stopped transient) still reach its owner after libvirtd
  // has forgotten it. Bounded; oldest dropped first.
  std::map<Uuid, std::string> previous_ TVD_GUARDED_BY(mu_);
  std::uint64_t generation_ TVD_GUARDED_BY(mu_) = 0;
};

}  // namespace tvd::libvirt_filter

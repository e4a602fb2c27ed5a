// The lookups of a fake DomainDirectory, shared by the relay's unit tests:
// a list of entries, each with a `dom` (RemoteDomain), searched by name,
// UUID and id. The tests derive from it and say how an entry's XML and the
// domain list are produced, which is what differs between them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tvd/libvirt_filter/domain_directory.h"

namespace tvd::libvirt_filter::testing {

template <typename Entry>
class FakeDirectoryLookups : public DomainDirectory {
 public:
  std::vector<Entry> domains;

  StatusOr<std::optional<RemoteDomain>> LookupByName(
      const std::string& name) override {
    return Find([&](const RemoteDomain& d) { return d.name == name; });
  }
  StatusOr<std::optional<RemoteDomain>> LookupByUuid(const Uuid& u) override {
    return Find([&](const RemoteDomain& d) { return d.uuid == u; });
  }
  StatusOr<std::optional<RemoteDomain>> LookupById(std::int32_t id) override {
    return Find([&](const RemoteDomain& d) { return d.id == id; });
  }

 protected:
  template <typename Match>
  std::optional<RemoteDomain> Find(Match match) const {
    for (const Entry& e : domains) {
      if (match(e.dom)) return e.dom;
    }
    return std::nullopt;
  }
};

}  // namespace tvd::libvirt_filter::testing

// "Domain not found" errors exactly as libvirtd words them.
//
// A tenant must not learn that another tenant's domain exists, so the relay
// answers a lookup of such a domain with the very error libvirtd gives for a
// missing one. The wording depends on the driver (the test driver says
// "Domain not found", QEMU "Domain not found: no domain with matching name
// 'x'"), so at start the relay asks libvirtd about domains that do not exist
// (a random name, UUID and id) and keeps the answers as templates, with the
// probe's name/UUID/id replaced by the real one when used.
#pragma once

#include <cstdint>
#include <string>

#include "tvd/libvirt_filter/remote_protocol.h"

namespace tvd::libvirt_filter {

class AdminConnection;

struct NotFoundTemplate {
  RemoteError error;
  // The probe values as they appear in the texts (empty: not present).
  std::string name_token;
  std::string uuid_token;
};

class NotFoundReplies {
 public:
  // libvirt's generic wording, used until Learn() succeeds.
  NotFoundReplies();
  // Probes libvirtd through `admin`; keeps defaults for any probe that does
  // not return a "domain not found" error.
  void Learn(AdminConnection& admin);

  RemoteError ByName(const std::string& name) const;
  RemoteError ByUuid(const Uuid& uuid) const;
  RemoteError ById(std::int32_t id) const;
  // A call on an existing domain handle (name + UUID) the tenant may not use.
  RemoteError ForDomain(const RemoteDomain& dom) const;

 private:
  static RemoteError Render(const NotFoundTemplate& t, const std::string& name,
                            const std::string& uuid);
  NotFoundTemplate by_name_;
  NotFoundTemplate by_uuid_;
  NotFoundTemplate by_id_;
  NotFoundTemplate for_domain_;
};

}  // namespace tvd::libvirt_filter

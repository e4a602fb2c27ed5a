// The admin channel: TvdAdd / TvdUpdate / TvdRemove / AdminQuery, any
// number on one connection, each answered AdminReply (JSON) or kError.
// Every change and every refusal is audited.
#pragma once

#include "master_core.h"
#include "tvd/channel/connection.h"

namespace tvd::master {

class AdminRequests {
 public:
  explicit AdminRequests(MasterCore& core) : core_(core) {}
  // PermissionDenied "admin requests need an admin certificate; peer is X".
  Status Handle(channel::Connection& conn, channel::Frame frame);

 private:
  StatusOr<std::string> Request(const pki::Identity& admin,
                                const channel::Frame& frame);
  StatusOr<std::string> Change(const std::string& actor,
                               const channel::Frame& frame);

  MasterCore& core_;
};

}  // namespace tvd::master

// `tvdctl rm ...`: asks rm-server (its query endpoint, CURVE with an admin
// key from the server's admin allow-list) about the hosts of the VDC.
//
//   tvdctl rm [OPTIONS] agents                 hosts, up/down, properties
//   tvdctl rm [OPTIONS] node HOST              CPU, load, memory, free capacity
//   tvdctl rm [OPTIONS] domains HOST           domains with state and TVD
//   tvdctl rm [OPTIONS] networks HOST DOMAIN   TVD networks of a domain
//   tvdctl rm keygen PREFIX                    a CURVE key pair (PREFIX.pub,
//                                              PREFIX.secret mode 0600)
// OPTIONS (each also from the environment):
//   --server ENDPOINT   TVD_RM_SERVER      e.g. tcp://127.0.0.1:5561
//   --server-key FILE   TVD_RM_SERVER_KEY  the server's public key file
//   --key PREFIX        TVD_RM_KEY         the admin key pair
//   --json              the server's result as JSON instead of a table
//   --timeout-ms N      default 5000
// Exit: 0 ok, 1 failed (unreachable, refused, not found), 2 usage.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tvd::tvdctl {

int RunRmCommand(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

}  // namespace tvd::tvdctl

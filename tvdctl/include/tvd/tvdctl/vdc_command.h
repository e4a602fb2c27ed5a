// `tvdctl vdc overview`: the datacenter admin's overview (tvd/overview):
// every TVD, the hosts each spans with their attestation state, the VMs of
// each TVD per host, and what each host has free. Asks tvd-master (admin
// queries, admin certificate) and rm-server (snapshot query, CURVE admin
// key) and merges both answers.
//
//   tvdctl vdc overview [--json] [OPTIONS]
//
// Master options are those of `tvdctl tvd` (tvd_command.h): --master,
// --master-name, --ca, --cert, --key, --config, with the same environment
// and config-file fallbacks. rm-server options: --rm-server ENDPOINT
// ($TVD_RM_SERVER), --rm-server-key FILE ($TVD_RM_SERVER_KEY), --rm-key
// PREFIX ($TVD_RM_KEY), as `tvdctl rm` names them. --timeout-ms N (default
// 5000) bounds each query.
//
// Output: tables by default, the JSON document of docs/overview.md with
// --json. When a source fails, what the other one knows is still printed and
// the error goes to stderr.
// Exit codes: 0 both sources answered, 1 a source refused or answered
// something unusable, 2 usage error, 3 a source is unreachable.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tvd/overview/model.h"
#include "tvd/status.h"

namespace tvd::tvdctl {

// The exit code for an overview whose sources ended as they did.
int OverviewExitCode(const overview::Overview& overview);

int RunVdcCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

}  // namespace tvd::tvdctl

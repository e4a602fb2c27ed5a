// Command lines of the rm-server and rm-agent binaries (their mains only
// forward argv here). Exit: 0 clean stop (SIGTERM/SIGINT), 1 failure, 2 usage.
//
//   rm-server keygen PREFIX
//   rm-server --agent-endpoint E --query-endpoint E --key PREFIX
//             --agents ALLOWLIST --admins ALLOWLIST
//             [--heartbeat-ms 1000] [--missed 3] [--expiry-ms 30000]
//             [--endpoints-file PATH]   (writes the bound endpoints, 2 lines)
//
//   rm-agent keygen PREFIX
//   rm-agent --server E --server-key FILE.pub --key PREFIX --host NAME
//            --libvirt-uri URI [--report-ms 2000] [--heartbeat-ms 1000]
//            [--property KEY=VALUE]...
#pragma once

#include <string>
#include <vector>

namespace tvd::rm {

int RunRmServerMain(const std::vector<std::string>& args);
int RunRmAgentMain(const std::vector<std::string>& args);

}  // namespace tvd::rm

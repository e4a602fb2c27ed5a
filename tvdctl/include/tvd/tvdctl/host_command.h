// The host commands of tvdctl, talking to the local proxy-factory over its
// control socket (tvd/host/control_protocol.h):
//
//   tvdctl join TVD                 make this host a member of TVD
//   tvdctl leave TVD                destroy the TVD's VMs here, remove its
//                                   networks, keys and policy
//   tvdctl attach TVD VMCONFIG      measure, admit, plug and start a VM
//   tvdctl detach TVD VM            stop and remove a VM
//   tvdctl status [TVD]             host view: TVDs, proxies, VMs
//
// Options for each: --socket PATH (default /run/tvd/proxy-factory.sock),
// --json (the daemon's answer as JSON), --help.
// Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 daemon unreachable.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tvd::tvdctl {

inline constexpr int kExitUnreachable = 3;
inline constexpr char kDefaultFactorySocket[] = "/run/tvd/proxy-factory.sock";

int RunJoinCommand(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);
int RunLeaveCommand(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err);
int RunAttachCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);
int RunDetachCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);
int RunStatusCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);

}  // namespace tvd::tvdctl

#include "tvd/tvdctl/dispatcher.h"

#include <array>

#include "tvd/tvdctl/host_command.h"
#include "tvd/tvdctl/master_command.h"
#include "tvd/tvdctl/pki_command.h"
#include "tvd/tvdctl/policy_command.h"
#include "tvd/tvdctl/rm_command.h"
#include "tvd/tvdctl/tvd_command.h"
#include "tvd/tvdctl/vdc_command.h"
#include "tvd/tvdctl/vm_command.h"

namespace tvd::tvdctl {

namespace {

constexpr std::array kGroups = {
    CommandGroup{"policy",
                 "validate, show, derive, import and digest TVD policies",
                 &RunPolicyCommand},
    CommandGroup{"join", "make this host a member of a TVD", &RunJoinCommand},
    CommandGroup{"leave", "leave a TVD (destroys its VMs on this host)",
                 &RunLeaveCommand},
    CommandGroup{"attach", "measure, admit and start a VM in a TVD",
                 &RunAttachCommand},
    CommandGroup{"detach", "stop and remove a VM of a TVD", &RunDetachCommand},
    CommandGroup{"status", "this host's TVDs, proxies and VMs",
                 &RunStatusCommand},
    CommandGroup{"tvd",
                 "admin view of the master: list, show, add, update, "
                 "remove TVDs",
                 &RunTvdCommand},
    CommandGroup{"master",
                 "each master replica: up, lock holder, channels, store role",
                 &RunMasterCommand},
    CommandGroup{"vdc",
                 "datacenter overview: TVDs across hosts, VMs, free "
                 "resources",
                 &RunVdcCommand},
    CommandGroup{"vm",
                 "a tenant's check of a VM's vTPM: the deep quote, offline",
                 &RunVmCommand},
    CommandGroup{"pki", "manage the VDC certificate authority and certificates",
                 &RunPkiCommand},
    CommandGroup{"rm",
                 "query rm-server: agents, node status, domains, networks",
                 &RunRmCommand},
};

void PrintHelp(std::ostream& out) {
  out << "usage: tvdctl GROUP COMMAND [ARGS...]\n"
         "       tvdctl GROUP --help\n\n"
         "Command groups:\n";
  for (const CommandGroup& g : kGroups) {
    out << "  " << g.name
        << std::string(10 - std::min<std::size_t>(g.name.size(), 9), ' ')
        << g.summary << "\n";
  }
  out << "\nExit status: 0 success, 1 failure or refusal, 2 usage error,\n"
         "3 daemon unreachable (host commands, tvd, vdc).\n";
}

}  // namespace

std::span<const CommandGroup> CommandGroups() { return kGroups; }

int RunTvdctl(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  if (args.empty()) {
    PrintHelp(err);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp(out);
    return kExitOk;
  }
  for (const CommandGroup& g : kGroups) {
    if (g.name == args[0]) {
      return g.run(std::vector<std::string>(args.begin() + 1, args.end()), out,
                   err);
    }
  }
  err << "tvdctl: unknown command group '" << args[0]
      << "' (see 'tvdctl --help')\n";
  return kExitUsage;
}

}  // namespace tvd::tvdctl

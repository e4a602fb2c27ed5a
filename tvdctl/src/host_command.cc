#include "tvd/tvdctl/host_command.h"

#include <stdlib.h>

#include <chrono>
#include <climits>
#include <sstream>

#include "tvd/host/control_protocol.h"
#include "tvd/host/control_socket.h"
#include "tvd/text_table.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {

namespace {

using host::ControlOp;
using host::ControlRequest;
using nlohmann::json;

struct CommandSpec {
  ControlOp op;
  const char* name;
  const char* operands;  // usage of the positional arguments
  std::size_t min_operands;
  std::size_t max_operands;
  const char* help;
};

constexpr CommandSpec kJoin{
    ControlOp::kJoin,
    "join",
    "TVD",
    1,
    1,
    "Makes this host a member of TVD: the factory starts a proxy that joins\n"
    "through the TVD master (which attests the host) and sets up the TVD's\n"
    "networks and tunnels. Refused when the host is already a member.\n"};
constexpr CommandSpec kLeave{
    ControlOp::kLeave,
    "leave",
    "TVD",
    1,
    1,
    "Leaves TVD: destroys all of its VMs on this host, removes its networks,\n"
    "tunnels and disk secrets, wipes its keys and policy, tells the master.\n"};
constexpr CommandSpec kAttach{
    ControlOp::kAttach,
    "attach",
    "TVD VMCONFIG",
    2,
    2,
    "Attaches the VM described by the final VM configuration VMCONFIG (a\n"
    "libvirt domain XML with TVD metadata): measures its kernel, initrd,\n"
    "disks and canonical configuration against TVD's known-good values,\n"
    "refuses a mismatch with the reason, plugs its NICs into the TVD's\n"
    "networks and starts it.\n"};
constexpr CommandSpec kDetach{
    ControlOp::kDetach,
    "detach",
    "TVD VM",
    2,
    2,
    "Stops and undefines VM of TVD on this host, unplugs its ports and\n"
    "removes its disk secrets.\n"};
constexpr CommandSpec kStatus{
    ControlOp::kStatus,
    "status",
    "[TVD]",
    0,
    1,
    "Shows the TVDs this host is a member of, their proxies and VMs; with\n"
    "TVD, that TVD's proxy's view (members, policy digest, VMs).\n"};

void Usage(const CommandSpec& spec, std::ostream& out) {
  out << "usage: tvdctl " << spec.name << " " << spec.operands
      << " [--socket PATH] [--json]\n\n"
      << spec.help
      << "\nOptions:\n"
         "  --socket PATH  the proxy-factory's control socket (default "
      << kDefaultFactorySocket
      << ")\n"
         "  --json         print the daemon's answer as JSON\n\n"
         "Exit status: 0 ok, 1 refused or failed, 2 usage error, 3 "
         "proxy-factory unreachable.\n";
}

// What to do next, by the kind of refusal.
std::string Hint(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kPermissionDenied:
      if (status.message().starts_with("control socket:")) {
        return "run as root or as a member of the proxy-factory's group";
      }
      if (status.message().find("': measured ") != std::string::npos) {
        return "the VM's files or configuration differ from the known-good "
               "values in the TVD policy; restore them, or have the admin "
               "update the policy ('tvdctl tvd update')";
      }
      return "refused by the TVD policy or the master; the reason is above";
    case ErrorCode::kNotFound:
      return "check the names with 'tvdctl status'";
    case ErrorCode::kAlreadyExists:
      return "see 'tvdctl status' for the current state";
    case ErrorCode::kUnavailable:
      return "a daemon or the master could not be reached; check that it "
             "runs and retry";
    case ErrorCode::kInvalidArgument:
      return "fix the input named above and retry";
    default:
      return "";
  }
}

std::string Cell(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "-";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// tvdctl status has always padded its last column.
void PrintStatusTable(std::ostream& out, const TableRow& header,
                      const std::vector<TableRow>& rows) {
  PrintTable(out, header, rows, {.pad_last_cell = true});
}

void PrintVms(std::ostream& out, const json& proxy) {
  std::vector<std::vector<std::string>> rows;
  if (proxy.contains("vms") && proxy["vms"].is_array()) {
    for (const json& vm : proxy["vms"]) {
      std::string ports;
      if (vm.contains("ports") && vm["ports"].is_array()) {
        for (const json& p : vm["ports"]) {
          if (!ports.empty()) ports += ",";
          ports += p.is_string() ? p.get<std::string>() : p.dump();
        }
      }
      rows.push_back(
          {Cell(vm, "name"), Cell(vm, "uuid"), ports.empty() ? "-" : ports});
    }
  }
  if (rows.empty()) {
    out << "  (no VMs)\n";
    return;
  }
  PrintStatusTable(out, {"VM", "UUID", "PORTS"}, rows);
}

void PrintResult(const CommandSpec& spec, const ControlRequest& req,
                 const json& result, std::ostream& out) {
  switch (spec.op) {
    case ControlOp::kJoin:
      out << "joined TVD '" << req.tvd << "' (proxy pid " << Cell(result, "pid")
          << ")\n";
      return;
    case ControlOp::kLeave:
      out << "left TVD '" << req.tvd << "'\n";
      return;
    case ControlOp::kAttach: {
      // The taps are the proxy's names (the VM configuration names NICs).
      std::string ports;
      if (result.contains("ports") && result["ports"].is_array()) {
        for (const json& p : result["ports"]) {
          if (p.is_string()) ports += ", port " + p.get<std::string>();
        }
      }
      out << "attached VM '" << Cell(result, "vm") << "' to TVD '" << req.tvd
          << "' (uuid " << Cell(result, "uuid") << ports << ")\n";
      return;
    }
    case ControlOp::kDetach:
      out << "detached VM '" << req.vm << "' from TVD '" << req.tvd << "'\n";
      return;
    case ControlOp::kStatus:
    case ControlOp::kUsage:  // not a tvdctl command
      break;
  }
  if (!req.tvd.empty()) {
    out << "TVD " << Cell(result, "tvd")
        << "  joined: " << Cell(result, "joined")
        << "  key epoch: " << Cell(result, "key_epoch")
        << "\npolicy digest: " << Cell(result, "policy_digest") << "\n";
    std::vector<std::vector<std::string>> members;
    if (result.contains("members") && result["members"].is_array()) {
      for (const json& m : result["members"]) {
        members.push_back({Cell(m, "host"), Cell(m, "address")});
      }
    }
    if (!members.empty()) PrintStatusTable(out, {"MEMBER", "ADDRESS"}, members);
    PrintVms(out, result);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  if (result.contains("tvds") && result["tvds"].is_array()) {
    for (const json& t : result["tvds"]) {
      std::string vms = "-";
      if (t.contains("proxy") && t["proxy"].contains("vms") &&
          t["proxy"]["vms"].is_array()) {
        vms = std::to_string(t["proxy"]["vms"].size());
      }
      rows.push_back({Cell(t, "tvd"), Cell(t, "state"), Cell(t, "pid"),
                      Cell(t, "restarts"), vms});
    }
  }
  if (rows.empty()) {
    out << "this host is not a member of any TVD\n";
    return;
  }
  PrintStatusTable(out, {"TVD", "STATE", "PID", "RESTARTS", "VMS"}, rows);
}

int RunHost(const CommandSpec& spec, const std::vector<std::string>& args,
            std::ostream& out, std::ostream& err) {
  std::string socket_path = kDefaultFactorySocket;
  bool as_json = false;
  std::vector<std::string> operands;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      Usage(spec, out);
      return kExitOk;
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--socket") {
      if (i + 1 >= args.size()) {
        err << "tvdctl " << spec.name << ": --socket needs a path\n";
        return kExitUsage;
      }
      socket_path = args[++i];
    } else if (a.starts_with("--socket=")) {
      socket_path = a.substr(9);
    } else if (a.starts_with("-") && a != "-") {
      err << "tvdctl " << spec.name << ": unknown option '" << a
          << "' (see 'tvdctl " << spec.name << " --help')\n";
      return kExitUsage;
    } else {
      operands.push_back(a);
    }
  }
  if (operands.size() < spec.min_operands ||
      operands.size() > spec.max_operands) {
    err << "tvdctl " << spec.name << ": expected " << spec.operands
        << " (see 'tvdctl " << spec.name << " --help')\n";
    return kExitUsage;
  }
  ControlRequest req;
  req.op = spec.op;
  if (!operands.empty()) req.tvd = operands[0];
  if (!req.tvd.empty() && !host::IsValidControlName(req.tvd)) {
    err << "tvdctl " << spec.name << ": '" << req.tvd
        << "' is not a valid TVD name (1-64 of A-Z a-z 0-9 _ . -)\n";
    return kExitUsage;
  }
  if (spec.op == ControlOp::kAttach) {
    char resolved[PATH_MAX];
    if (::realpath(operands[1].c_str(), resolved) == nullptr) {
      err << "tvdctl attach: cannot find VM configuration '" << operands[1]
          << "': check the path\n";
      return kExitFailure;
    }
    req.vm_config = resolved;
  }
  if (spec.op == ControlOp::kDetach) {
    req.vm = operands[1];
    if (!host::IsValidControlName(req.vm)) {
      err << "tvdctl detach: '" << req.vm << "' is not a valid VM name\n";
      return kExitUsage;
    }
  }
  auto resp = host::CallControl(socket_path, req, std::chrono::minutes(5));
  if (!resp.ok()) {
    if (resp.status().code() == ErrorCode::kUnavailable) {
      err << "tvdctl " << spec.name << ": " << resp.status().message()
          << "\n  is proxy-factory running? start it, or point --socket at "
             "its control socket\n";
      return kExitUnreachable;
    }
    err << "tvdctl " << spec.name << ": " << resp.status().ToString() << "\n";
    return kExitFailure;
  }
  if (!resp->status.ok()) {
    if (as_json) {
      out << json{{"ok", false},
                  {"error",
                   {{"code", ErrorCodeName(resp->status.code())},
                    {"message", resp->status.message()}}}}
                 .dump(2)
          << "\n";
    }
    err << "tvdctl " << spec.name << ": " << resp->status.ToString() << "\n";
    std::string hint = Hint(resp->status);
    if (!hint.empty()) err << "  " << hint << "\n";
    return kExitFailure;
  }
  if (as_json) {
    out << resp->result.dump(2) << "\n";
  } else {
    PrintResult(spec, req, resp->result, out);
  }
  return kExitOk;
}

}  // namespace

int RunJoinCommand(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  return RunHost(kJoin, args, out, err);
}
int RunLeaveCommand(const std::vector<std::string>& args, std::ostream& out,
                    std::ostream& err) {
  return RunHost(kLeave, args, out, err);
}
int RunAttachCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  return RunHost(kAttach, args, out, err);
}
int RunDetachCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  return RunHost(kDetach, args, out, err);
}
int RunStatusCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  return RunHost(kStatus, args, out, err);
}

}  // namespace tvd::tvdctl

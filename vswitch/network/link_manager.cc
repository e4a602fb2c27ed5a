#include "tvd/vswitch/link_manager.h"

#include <set>
#include <sstream>

#include "tvd/process.h"

namespace tvd::vswitch {

StatusOr<std::string> IpLinkManager::Run(const std::vector<std::string>& argv) {
  ProcessOptions o;
  o.argv = argv;
  o.netns = netns_;
  TVD_ASSIGN_OR_RETURN(CommandResult r, RunCommand(o));
  if (r.exit_status != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!r.err.empty() && r.err.back() == '\n') r.err.pop_back();
    if (r.err.find("Cannot find device") != std::string::npos ||
        r.err.find("does not exist") != std::string::npos) {
      return NotFound("'" + cmd + "': " + r.err);
    }
    return IoError("'" + cmd + "' exited with " +
                   std::to_string(r.exit_status) + ": " + r.err);
  }
  return r.out;
}

Status IpLinkManager::EnsureVxlan(const VxlanLink& link) {
  StatusOr<std::string> shown =
      Run({"ip", "-d", "-o", "link", "show", "dev", link.name});
  if (shown.ok()) {
    std::string want_id = " id " + std::to_string(link.vni) + " ";
    std::string want_port = " dstport " + std::to_string(link.dstport) + " ";
    if (shown->find(" vxlan ") == std::string::npos ||
        shown->find(want_id) == std::string::npos ||
        shown->find(want_port) == std::string::npos) {
      return FailedPrecondition("device " + link.name +
                                " exists but is not VXLAN id " +
                                std::to_string(link.vni) + " dstport " +
                                std::to_string(link.dstport));
    }
  } else if (shown.status().code() == ErrorCode::kNotFound) {
    TVD_RETURN_IF_ERROR(
        Run({"ip", "link", "add", link.name, "type", "vxlan", "id",
             std::to_string(link.vni), "local", link.local_address, "dstport",
             std::to_string(link.dstport), "nolearning"})
            .status());
  } else {
    return shown.status();
  }
  return Run({"ip", "link", "set", link.name, "up"}).status();
}

Status IpLinkManager::SetVxlanPeers(const std::string& name,
                                    const std::vector<std::string>& peers) {
  TVD_ASSIGN_OR_RETURN(std::string fdb,
                       Run({"bridge", "fdb", "show", "dev", name}));
  std::set<std::string> have;
  std::istringstream lines(fdb);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string mac, key, dst;
    words >> mac >> key >> dst;
    if (mac == "00:00:00:00:00:00" && key == "dst") have.insert(dst);
  }
  std::set<std::string> want(peers.begin(), peers.end());
  for (const std::string& p : want) {
    if (have.count(p) != 0) continue;
    TVD_RETURN_IF_ERROR(Run({"bridge", "fdb", "append", "00:00:00:00:00:00",
                             "dev", name, "dst", p})
                            .status());
  }
  for (const std::string& p : have) {
    if (want.count(p) != 0) continue;
    TVD_RETURN_IF_ERROR(Run({"bridge", "fdb", "del", "00:00:00:00:00:00", "dev",
                             name, "dst", p})
                            .status());
  }
  return Status::Ok();
}

Status IpLinkManager::DeleteLink(const std::string& name) {
  return Run({"ip", "link", "del", "dev", name}).status();
}

StatusOr<std::vector<std::string>> IpLinkManager::ListLinks(
    const std::string& prefix) {
  TVD_ASSIGN_OR_RETURN(std::string out, Run({"ip", "-o", "link", "show"}));
  std::vector<std::string> names;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    // "7: name@peer: <FLAGS> ..." or "7: name: <FLAGS> ..."
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    auto end = line.find_first_of(":@", colon + 2);
    if (end == std::string::npos) continue;
    std::string name = line.substr(colon + 2, end - colon - 2);
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace tvd::vswitch

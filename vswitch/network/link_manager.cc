#include "tvd/vswitch/network/link_manager.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
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

namespace {

// The guard lives in a table of its own, so it never touches rules that
// others own. Each guarded port has one rule per direction, tagged with a
// comment naming the port, so a restarted controller can find them.
constexpr char kGuardTable[] = "tvd_vxlan_guard";

std::string GuardComment(std::uint16_t port) {
  return "tvd-vxlan-" + std::to_string(port);
}

// Rules of the guard table: {chain, handle, comment}.
struct GuardRule {
  std::string chain;
  long handle = 0;
  std::string comment;
};

StatusOr<std::vector<GuardRule>> ParseGuardRules(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("nftables") ||
      !doc["nftables"].is_array()) {
    return Internal("'nft -j list table' printed no ruleset");
  }
  std::vector<GuardRule> rules;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object() || !item.contains("rule")) continue;
    const auto& r = item["rule"];
    if (!r.is_object()) continue;
    rules.push_back(
        {r.value("chain", ""), r.value("handle", 0L), r.value("comment", "")});
  }
  return rules;
}

}  // namespace

StatusOr<std::string> IpLinkManager::RunWithInput(
    const std::vector<std::string>& argv, const std::string& input) {
  // nft reads a whole script from a file and applies it as one transaction.
  char path[] = "/tmp/tvd-nft-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return ErrnoError("mkstemp", errno);
  bool written = ::write(fd, input.data(), input.size()) ==
                 static_cast<ssize_t>(input.size());
  ::close(fd);
  StatusOr<std::string> r =
      written ? Run([&] {
        std::vector<std::string> a = argv;
        a.push_back(path);
        return a;
      }())
              : StatusOr<std::string>(IoError("cannot write nft script"));
  ::unlink(path);
  return r;
}

Status IpLinkManager::EnsureVxlanGuard(std::uint16_t port,
                                       const std::string& tun_device) {
  if (port == 0 || tun_device.empty()) {
    return InvalidArgument("a VXLAN guard needs a port and a TUN device");
  }
  for (char c : tun_device) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidArgument("TUN device name '" + tun_device +
                             "' has characters other than [A-Za-z0-9_-]");
    }
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint16_t> guarded, ListVxlanGuards());
  std::string p = std::to_string(port);
  std::string script = std::string("add table inet ") + kGuardTable + "\n" +
                       "add chain inet " + kGuardTable +
                       " input { type filter hook input priority -10; }\n" +
                       "add chain inet " + kGuardTable +
                       " output { type filter hook output priority -10; }\n";
  if (std::find(guarded.begin(), guarded.end(), port) == guarded.end()) {
    // Both directions in one transaction: the port is never half guarded.
    script += std::string("add rule inet ") + kGuardTable +
              " input udp dport " + p + " iifname != \"" + tun_device +
              "\" counter drop comment \"" + GuardComment(port) + "\"\n";
    script += std::string("add rule inet ") + kGuardTable +
              " output udp dport " + p + " oifname != \"" + tun_device +
              "\" counter drop comment \"" + GuardComment(port) + "\"\n";
  }
  TVD_RETURN_IF_ERROR(RunWithInput({"nft", "-f"}, script).status());
  return EnsureVxlanSteering(port, tun_device);
}

Status IpLinkManager::EnsureVxlanSteering(std::uint16_t port,
                                          const std::string& tun_device) {
  // charon routes a peer's address into the TUN device per SA (table 220),
  // but the route is shared by every SA to that peer and goes with the SA
  // that installed it: one TVD leaving a peer would cut the other TVDs'
  // tunnels to it. So the TVD's VXLAN port is steered by a rule of its own
  // into a table whose one route is the TUN device; without an SA for a
  // peer the userspace ESP drops the packet, as the guard would.
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint16_t> steered, ListSteeredPorts());
  if (std::find(steered.begin(), steered.end(), port) == steered.end()) {
    TVD_RETURN_IF_ERROR(
        Run({"ip", "rule", "add", "pref", std::to_string(kVxlanRulePriority),
             "ipproto", "udp", "dport", std::to_string(port), "table",
             std::to_string(kVxlanRouteTable)})
            .status());
  }
  StatusOr<std::string> route =
      Run({"ip", "route", "replace", "default", "dev", tun_device, "table",
           std::to_string(kVxlanRouteTable)});
  // No TUN device yet (charon not started): the rule finds no route and the
  // guard drops; the next EnsureVxlanGuard adds the route.
  if (route.status().code() == ErrorCode::kNotFound) return Status::Ok();
  return route.status();
}

StatusOr<std::vector<std::uint16_t>> IpLinkManager::ListSteeredPorts() {
  TVD_ASSIGN_OR_RETURN(std::string listed,
                       Run({"ip", "-j", "rule", "show", "table",
                            std::to_string(kVxlanRouteTable)}));
  nlohmann::json doc = nlohmann::json::parse(listed, nullptr, false);
  if (!doc.is_array()) {
    return Internal("'ip -j rule show' printed no JSON list");
  }
  std::vector<std::uint16_t> ports;
  for (const auto& rule : doc) {
    if (!rule.is_object() || !rule.contains("dport") ||
        !rule["dport"].is_number_unsigned()) {
      continue;
    }
    auto port = rule["dport"].get<std::uint64_t>();
    if (port > 0 && port <= 65535) {
      ports.push_back(static_cast<std::uint16_t>(port));
    }
  }
  return ports;
}

Status IpLinkManager::RemoveVxlanGuard(std::uint16_t port) {
  StatusOr<std::string> listed =
      Run({"nft", "-j", "list", "table", "inet", kGuardTable});
  if (!listed.ok()) return Status::Ok();  // no table: nothing guarded
  TVD_ASSIGN_OR_RETURN(std::vector<GuardRule> rules, ParseGuardRules(*listed));
  std::string script;
  for (const GuardRule& r : rules) {
    if (r.comment != GuardComment(port)) continue;
    script += std::string("delete rule inet ") + kGuardTable + " " + r.chain +
              " handle " + std::to_string(r.handle) + "\n";
  }
  if (!script.empty()) {
    TVD_RETURN_IF_ERROR(RunWithInput({"nft", "-f"}, script).status());
  }
  // The steering rule goes after the guard: the port is never unguarded.
  TVD_ASSIGN_OR_RETURN(std::vector<std::uint16_t> steered, ListSteeredPorts());
  for (std::uint16_t p : steered) {
    if (p != port) continue;
    TVD_RETURN_IF_ERROR(
        Run({"ip", "rule", "del", "pref", std::to_string(kVxlanRulePriority),
             "ipproto", "udp", "dport", std::to_string(port), "table",
             std::to_string(kVxlanRouteTable)})
            .status());
  }
  return Status::Ok();
}

StatusOr<std::vector<std::uint16_t>> IpLinkManager::ListVxlanGuards() {
  StatusOr<std::string> listed =
      Run({"nft", "-j", "list", "table", "inet", kGuardTable});
  if (!listed.ok()) return std::vector<std::uint16_t>{};  // no table yet
  TVD_ASSIGN_OR_RETURN(std::vector<GuardRule> rules, ParseGuardRules(*listed));
  // A port counts as guarded only with both directions in place.
  std::map<std::uint16_t, std::set<std::string>> chains;
  const std::string prefix = "tvd-vxlan-";
  for (const GuardRule& r : rules) {
    if (r.comment.rfind(prefix, 0) != 0) continue;
    long port = std::strtol(r.comment.c_str() + prefix.size(), nullptr, 10);
    if (port > 0 && port <= 65535) {
      chains[static_cast<std::uint16_t>(port)].insert(r.chain);
    }
  }
  std::vector<std::uint16_t> ports;
  for (const auto& [port, c] : chains) {
    if (c.count("input") && c.count("output")) ports.push_back(port);
  }
  return ports;
}

}  // namespace tvd::vswitch

#include "tvd/vswitch/vici/vici_tunnel_backend.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <utility>

#include "tvd/log.h"

namespace tvd::vici {

namespace {

constexpr std::string_view kTunnelPrefix = "tvd-";
// Shorter than charon's and VICI's 255-byte name limit with room for the
// child suffixes, and short enough to read in logs.
constexpr std::size_t kMaxNamePart = 64;
// Below this a PSK is guessable offline from one captured IKE_AUTH.
constexpr std::size_t kMinPskBytes = 16;
constexpr std::size_t kMaxPskBytes = 1024;

bool NameChar(char c, bool allow_dot) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         (allow_dot && c == '.');
}

Status CheckNamePart(std::string_view field, const std::string& value,
                     bool allow_dot) {
  if (value.empty()) {
    return InvalidArgument("tunnel spec: " + std::string(field) + " is empty");
  }
  if (value.size() > kMaxNamePart) {
    return InvalidArgument("tunnel spec: " + std::string(field) + " is " +
                           std::to_string(value.size()) +
                           " characters, the limit is 64");
  }
  for (char c : value) {
    if (!NameChar(c, allow_dot)) {
      return InvalidArgument("tunnel spec: " + std::string(field) + " '" +
                             value + "' has a character outside [A-Za-z0-9_-" +
                             (allow_dot ? "." : "") + "]");
    }
  }
  return Status::Ok();
}

// Address family of `a` (AF_INET / AF_INET6), or an error naming the field.
StatusOr<int> AddressFamily(std::string_view field, const std::string& a) {
  in6_addr buf{};
  if (::inet_pton(AF_INET, a.c_str(), &buf) == 1) return AF_INET;
  if (::inet_pton(AF_INET6, a.c_str(), &buf) == 1) return AF_INET6;
  return InvalidArgument("tunnel spec: " + std::string(field) + " '" + a +
                         "' is not an IPv4 or IPv6 address");
}

Status CheckProposals(std::string_view field,
                      const std::vector<std::string>& proposals) {
  if (proposals.empty()) {
    return InvalidArgument("tunnel spec: " + std::string(field) +
                           " is empty (the TVD policy must name them)");
  }
  for (const std::string& p : proposals) {
    if (p.empty() || p.size() > 200 ||
        !std::all_of(p.begin(), p.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        })) {
      return InvalidArgument("tunnel spec: " + std::string(field) + " entry '" +
                             p + "' is not a proposal like aes256gcm16-ecp256");
    }
  }
  return Status::Ok();
}

std::string HostSelector(const std::string& address, int family,
                         std::uint16_t port) {
  std::string ts = address + (family == AF_INET ? "/32" : "/128") + "[udp";
  if (port != 0) ts += "/" + std::to_string(port);
  return ts + "]";
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Names of CHILD_SAs in state INSTALLED under IKE_SAs of config `ike`.
std::set<std::string> InstalledChildren(const std::vector<Message>& sas,
                                        const std::string& ike) {
  std::set<std::string> out;
  for (const Message& item : sas) {
    const Message* sa = item.Section(ike);
    if (sa == nullptr) continue;
    const Message* children = sa->Section("child-sas");
    if (children == nullptr) continue;
    for (const Message::Entry& e : children->entries()) {
      if (e.kind != Message::Kind::kSection) continue;
      const Message& child = children->SectionAt(e);
      if (child.ValueOr("state", "") != "INSTALLED") continue;
      // charon keys children "<name>-<uniqueid>" and repeats the name inside.
      out.insert(child.ValueOr("name", e.name));
    }
  }
  return out;
}

}  // namespace

std::string OutboundChildName(const std::string& tunnel_name) {
  return tunnel_name + "-out";
}
std::string InboundChildName(const std::string& tunnel_name) {
  return tunnel_name + "-in";
}
std::string TunnelIdentity(const std::string& tvd, const std::string& host) {
  return tvd + "@" + host;
}

ViciTunnelBackend::ViciTunnelBackend(ViciClientPtr client,
                                     ViciTunnelBackendOptions options)
    : client_(std::move(client)), options_(options) {}

StatusOr<std::unique_ptr<ViciTunnelBackend>> ViciTunnelBackend::Connect(
    const std::string& vici_socket_path, ViciTunnelBackendOptions options) {
  ClientOptions opts;
  opts.socket_path = vici_socket_path;
  TVD_ASSIGN_OR_RETURN(ViciClientPtr client, ViciClient::Connect(opts));
  return std::make_unique<ViciTunnelBackend>(std::move(client), options);
}

Status ViciTunnelBackend::ValidateSpec(const vswitch::TunnelSpec& spec) {
  TVD_RETURN_IF_ERROR(CheckNamePart("tvd", spec.tvd, false));
  TVD_RETURN_IF_ERROR(CheckNamePart("local_host", spec.local_host, true));
  TVD_RETURN_IF_ERROR(CheckNamePart("peer_host", spec.peer_host, true));
  if (spec.local_host == spec.peer_host) {
    return InvalidArgument("tunnel spec: local_host and peer_host are both '" +
                           spec.local_host + "'");
  }
  if (spec.tvd_id < 1 || spec.tvd_id > vswitch::kMaxTvdId) {
    return InvalidArgument("tunnel spec: tvd_id " +
                           std::to_string(spec.tvd_id) +
                           " is outside 1..16383");
  }
  TVD_ASSIGN_OR_RETURN(int local_family,
                       AddressFamily("local_address", spec.local_address));
  TVD_ASSIGN_OR_RETURN(int peer_family,
                       AddressFamily("peer_address", spec.peer_address));
  if (local_family != peer_family) {
    return InvalidArgument("tunnel spec: local_address '" + spec.local_address +
                           "' and peer_address '" + spec.peer_address +
                           "' are of different address families");
  }
  if (spec.local_address == spec.peer_address) {
    return InvalidArgument(
        "tunnel spec: local_address and peer_address are "
        "both '" +
        spec.local_address + "'");
  }
  TVD_RETURN_IF_ERROR(CheckProposals("ike_proposals", spec.ike_proposals));
  TVD_RETURN_IF_ERROR(CheckProposals("esp_proposals", spec.esp_proposals));
  if (spec.psk == nullptr) {
    return InvalidArgument("tunnel spec: psk is missing");
  }
  if (spec.psk->size() < kMinPskBytes || spec.psk->size() > kMaxPskBytes) {
    return InvalidArgument("tunnel spec: psk is " +
                           std::to_string(spec.psk->size()) +
                           " bytes, it must be 16..1024");
  }
  return Status::Ok();
}

StatusOr<Message> ViciTunnelBackend::BuildConnection(
    const vswitch::TunnelSpec& spec) {
  TVD_RETURN_IF_ERROR(ValidateSpec(spec));
  TVD_ASSIGN_OR_RETURN(int family,
                       AddressFamily("local_address", spec.local_address));
  const std::string name = vswitch::TunnelName(spec);
  const std::uint16_t port = vswitch::VxlanPortForTvd(spec.tvd_id);

  Message conn;
  conn.Add("version", "2");
  conn.AddList("local_addrs", {spec.local_address});
  conn.AddList("remote_addrs", {spec.peer_address});
  conn.AddList("proposals", spec.ike_proposals);
  // A peer that restarted authenticates again with INITIAL_CONTACT; its new
  // SA replaces the stale one instead of coexisting with it.
  conn.Add("unique", "replace");
  // Liveness checks while no traffic arrives, so the initiator notices a
  // restarted peer and re-establishes (dpd_action below).
  conn.Add("dpd_delay", "5s");
  Message& local = conn.AddSection("local");
  local.Add("auth", "psk");
  local.Add("id", TunnelIdentity(spec.tvd, spec.local_host));
  Message& remote = conn.AddSection("remote");
  remote.Add("auth", "psk");
  remote.Add("id", TunnelIdentity(spec.tvd, spec.peer_host));

  Message children;
  auto add_child = [&](const std::string& child_name, std::uint16_t local_port,
                       std::uint16_t remote_port) {
    Message& c = children.AddSection(child_name);
    c.AddList("local_ts",
              {HostSelector(spec.local_address, family, local_port)});
    c.AddList("remote_ts",
              {HostSelector(spec.peer_address, family, remote_port)});
    c.AddList("esp_proposals", spec.esp_proposals);
    c.Add("mode", "tunnel");
    c.Add("start_action", "none");
    // Only the initiator re-establishes; two ends both restarting would race
    // and build duplicate SAs.
    c.Add("dpd_action", spec.initiator ? "restart" : "clear");
    c.Add("close_action", "none");
  };
  add_child(OutboundChildName(name), 0, port);
  add_child(InboundChildName(name), port, 0);
  conn.AddSection("children", std::move(children));
  return conn;
}

Status ViciTunnelBackend::EnsureTunnel(const vswitch::TunnelSpec& spec) {
  TVD_ASSIGN_OR_RETURN(Message conn, BuildConnection(spec));
  const std::string name = vswitch::TunnelName(spec);

  TVD_ASSIGN_OR_RETURN(std::vector<std::string> conns, client_->GetConns());
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> keys, client_->GetShared());
  const bool existed = Contains(conns, name) || Contains(keys, name);

  auto roll_back = [&](const Status& cause) {
    if (!existed) {
      // Best effort (either may not have been loaded): the cause is what
      // the caller needs to see.
      (void)client_->UnloadShared(name);
      (void)client_->UnloadConn(name);
    }
    return cause.WithContext("tunnel '" + name + "'");
  };

  Status st = client_->LoadShared(name, "IKE", spec.psk->view(),
                                  {TunnelIdentity(spec.tvd, spec.local_host),
                                   TunnelIdentity(spec.tvd, spec.peer_host)});
  if (!st.ok()) return roll_back(st);
  st = client_->LoadConn(name, conn);
  if (!st.ok()) return roll_back(st);
  log::Info("tunnel ", name, " configured (", spec.local_address, " <-> ",
            spec.peer_address, ", udp port ",
            vswitch::VxlanPortForTvd(spec.tvd_id), ")");
  // Only one end initiates: if both did, they would race and build
  // duplicate SAs (seen here: "not establishing CHILD_SA ... due to existing
  // duplicate").
  if (!spec.initiator) return Status::Ok();
  return InitiateMissingChildren(spec, name);
}

Status ViciTunnelBackend::InitiateMissingChildren(
    const vswitch::TunnelSpec& spec, const std::string& name) {
  (void)spec;
  TVD_ASSIGN_OR_RETURN(std::vector<Message> sas, client_->ListSas(name));
  std::set<std::string> installed = InstalledChildren(sas, name);
  for (const std::string& child :
       {OutboundChildName(name), InboundChildName(name)}) {
    if (installed.count(child) != 0) continue;
    std::string last_log;
    Status st =
        client_->Initiate(child, name, options_.initiate_timeout,
                          [&](const std::string& line) { last_log = line; });
    if (!st.ok()) {
      return Unavailable(
          "tunnel '" + name + "': initiating '" + child +
          "' failed: " + st.message() +
          (last_log.empty() ? "" : " (charon: " + last_log + ")"));
    }
  }
  return Status::Ok();
}

Status ViciTunnelBackend::RemoveTunnel(const std::string& name) {
  if (name.rfind(kTunnelPrefix, 0) != 0) {
    return InvalidArgument("tunnel name '" + name +
                           "' does not start with 'tvd-': not ours to remove");
  }
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> conns, client_->GetConns());
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> keys, client_->GetShared());
  const bool has_conn = Contains(conns, name);
  const bool has_key = Contains(keys, name);
  if (!has_conn && !has_key) return NotFound("no tunnel '" + name + "'");

  if (has_conn) {
    Status st = client_->Terminate(name, options_.terminate_timeout, false);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) {
      // The peer did not answer the DELETE in time: destroy locally anyway.
      log::Warning("tunnel ", name, ": orderly terminate failed (",
                   st.message(), "), forcing");
      st = client_->Terminate(name, options_.terminate_timeout, true);
      if (!st.ok() && st.code() != ErrorCode::kNotFound) {
        return st.WithContext("tunnel '" + name + "'");
      }
    }
    TVD_RETURN_IF_ERROR(
        client_->UnloadConn(name).WithContext("tunnel '" + name + "'"));
  }
  if (has_key) {
    TVD_RETURN_IF_ERROR(
        client_->UnloadShared(name).WithContext("tunnel '" + name + "'"));
  }
  log::Info("tunnel ", name, " removed");
  return Status::Ok();
}

StatusOr<std::vector<std::string>> ViciTunnelBackend::ListTunnels() {
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> conns, client_->GetConns());
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> keys, client_->GetShared());
  std::set<std::string> names;
  for (const auto* list : {&conns, &keys}) {
    for (const std::string& n : *list) {
      if (n.rfind(kTunnelPrefix, 0) == 0) names.insert(n);
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace tvd::vici

// `tvdctl tvd`: the admin view of the TVD master, over the master's admin
// protocol (tvd/protocol/admin_client.h) with an admin certificate:
//
//   tvdctl tvd list                TVDs, the hosts each spans with their
//                                  attestation state, VM counts
//   tvdctl tvd show TVD            one TVD: hosts (attestation state and
//                                  time, underlay, connected), networks, VMs
//   tvdctl tvd add FILE            add the TVD of policy FILE
//   tvdctl tvd update FILE         replace the policy of an existing TVD
//   tvdctl tvd remove TVD          remove a TVD (its members are told to leave)
//
// Connection: --master ADDRESS:PORT[,ADDRESS:PORT...] (the master, or up
// to 16 replicas of it: a request goes to the first that accepts the
// connection, protocol/failover_admin_client.h), --master-name NAME (the CN of the
// master's certificate, default "tvd-master"), --ca PEM, --cert PEM,
// --key PEM. Each falls back to an environment variable (TVD_MASTER,
// TVD_MASTER_NAME, TVD_ADMIN_CA, TVD_ADMIN_CERT, TVD_ADMIN_KEY), then to the
// config file (--config FILE, else $TVDCTL_ADMIN_CONFIG, else
// /etc/tvd/tvdctl-admin.conf when it exists) of `key = value` lines with the
// keys master, master_name, ca, cert, key. docs/master.md section 9.
//
// add/update parse the policy locally first, so a broken file fails with
// "FILE:LINE: ..." before anything is sent.
//
// Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 master unreachable.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/status.h"

namespace tvd::tvdctl {

inline constexpr char kDefaultAdminConfig[] = "/etc/tvd/tvdctl-admin.conf";
inline constexpr char kDefaultMasterName[] = "tvd-master";

enum class TvdVerb { kList, kShow, kAdd, kUpdate, kRemove };

// Where and as whom to reach the master. Empty fields are not set yet.
struct MasterConnection {
  // "ADDRESS:PORT", IPv6 as "[::1]:7400", or a list of them separated by
  // "," (daemon/endpoint_list.h).
  std::string master;
  std::string master_name;
  std::string ca;
  std::string cert;
  std::string key;
};

struct TvdInvocation {
  TvdVerb verb = TvdVerb::kList;
  std::string operand;  // TVD name (show/remove) or policy file (add/update)
  bool json = false;
  bool help = false;
  std::string config;  // --config FILE; empty: default
  MasterConnection connection;
};

// The options every admin command shares, into `inv`: --master LIST
// (given again: the lists are joined), --master-name, --ca, --cert, --key,
// --config, --json, --help / -h (which stops the parse). Returns the other
// arguments in order. InvalidArgument "X needs a value", "unknown option
// 'X'".
StatusOr<std::vector<std::string>> ParseConnectionArgs(
    const std::vector<std::string>& args, TvdInvocation& inv);

// Parses the arguments after "tvd". InvalidArgument with the message to
// print (e.g. "unknown option '--x'", "show needs TVD") on a usage error.
StatusOr<TvdInvocation> ParseTvdArgs(const std::vector<std::string>& args);

// Returns the value of an environment variable, or nullopt.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

// Fills the empty fields of `inv.connection` from the environment, then from
// the config file. An explicitly named config file (--config or
// $TVDCTL_ADMIN_CONFIG) must exist; the default one may be absent.
// InvalidArgument "FILE:LINE: ..." for a bad config line, "no master
// address: ..." / "no admin certificate: ..." when something is still
// missing.
Status ResolveConnection(TvdInvocation& inv, const EnvLookup& env);

// Applies the `key = value` lines of a config file's `text` (named `path`
// in errors) to the fields of `c` that are still empty. InvalidArgument
// "PATH:LINE: ..." for a line without '=', an unknown, repeated or empty
// key; then nothing more is applied. Fuzzed (tests/fuzz/line_files).
Status ApplyAdminConfig(std::string_view text, const std::string& path,
                        MasterConnection& c);

// Splits "ADDRESS:PORT" / "[V6]:PORT" (numeric, port 1..65535) with
// daemon::ParseEndpoint. InvalidArgument naming the text (endpoint.h).
StatusOr<std::pair<std::string, std::uint16_t>> SplitHostPort(
    const std::string& text);

// The masters of `c.master` in the order to try them
// (daemon::ParseEndpointList: one entry gives SplitHostPort's errors, a
// list names the entry, a repeated or 17th entry is refused).
StatusOr<std::vector<daemon::Endpoint>> MasterList(const MasterConnection& c);

// Readable tables of the master's reply JSON (docs/master.md section 3).
// Missing fields print as "-"; nothing here throws on odd JSON.
void RenderTvdList(const nlohmann::json& reply, std::ostream& out);
void RenderTvdShow(const nlohmann::json& tvd, std::ostream& out);

int RunTvdCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

}  // namespace tvd::tvdctl

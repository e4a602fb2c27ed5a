// `tvdctl master status`: each master replica's own view, over the admin
// protocol (AdminQuery kind "master", an admin certificate):
//
//   tvdctl master status [--master A:P[,A:P...]]... [--json]
//
// One line per replica: its address, up or down, whether it holds the
// singleton lock (the eviction duty), its connected member channels out
// of the members it knows, the store kind, and for an OVSDB store the
// role and Raft commit index of the store server it talks to. A replica
// that does not answer is a line saying why (connection refused, timeout),
// not a failure of the command. --json prints {"masters": [...]} with
// each replica's raw answer.
//
// Connection settings as `tvdctl tvd` (tvd_command.h); --master may be
// repeated or a comma list (this command only), else the one master of
// $TVD_MASTER / the config file.
//
// Exit codes: 0 when at least one replica answered, 2 usage error, 3 when
// none did, 1 for bad credentials.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/tvdctl/tvd_command.h"

namespace tvd::tvdctl {

struct MasterStatusInvocation {
  std::vector<std::string> masters;  // from --master, in order
  bool json = false;
  bool help = false;
  TvdInvocation connection;  // master_name, ca, cert, key, config
};

// Parses the arguments after "master". InvalidArgument with the message to
// print: "missing COMMAND (status)", "unknown command 'X' (status)",
// "unknown option '--x'", "--master needs a value", "unexpected argument
// 'X'", SplitHostPort's error for a bad address.
StatusOr<MasterStatusInvocation> ParseMasterArgs(
    const std::vector<std::string>& args);

// What one replica said: its AdminQuery "master" JSON, or why not.
struct ReplicaAnswer {
  std::string address;
  StatusOr<nlohmann::json> status = Unavailable("not asked");
};

// The table (one line per replica, in order) and the --json form.
// Fields missing from an answer print as "-"; never throws on odd JSON.
void RenderMasterStatus(const std::vector<ReplicaAnswer>& answers,
                        std::ostream& out);
nlohmann::json MasterStatusJson(const std::vector<ReplicaAnswer>& answers);

int RunMasterCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);

}  // namespace tvd::tvdctl

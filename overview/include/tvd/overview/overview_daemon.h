// tvd-overview as a daemon: its flags and the wiring of the overview site
// (the master's admin view and rm-server's snapshot behind a cache, served
// by HttpServer), in the library so tests start it the way main does
// (daemon/run_daemon.h).
//
//   tvd-overview --master ADDRESS:PORT[,...] [--master-name NAME] --ca PEM
//                --cert PEM --key PEM
//                --rm-server ENDPOINT --rm-server-key FILE --rm-key PREFIX
//                [--listen ADDRESS:PORT]      default 127.0.0.1:8480
//                [--allow-non-loopback] [--allowed-host NAME]...
//                [--refresh-seconds N]        default 5 (0: no refresh)
//                [--cache-ms DURATION]        default 1000 (bare: ms)
//                [--timeout-ms DURATION]      default 3000, per source query
//                [--port-file PATH]           writes the bound port
//
// Serves the overview (overview_site.h) until SIGTERM/SIGINT. Exit: 0 clean
// stop, 1 start-up failure (unreadable key, refused listen address), 2 usage.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/run_daemon.h"

namespace tvd::overview {

struct OverviewFlags {
  daemon::Endpoint listen{"127.0.0.1", 8480};
  bool allow_non_loopback = false;
  std::vector<std::string> allowed_hosts;
  // The master, or its replicas in the order to try them: a query goes to
  // the first that accepts the connection.
  std::vector<daemon::Endpoint> masters;
  std::string master_name = "tvd-master";
  std::string ca;
  std::string cert;
  std::string key;
  std::string rm_server;
  std::string rm_server_key;
  std::string rm_key;
  int refresh_seconds = 5;
  std::chrono::milliseconds cache{1000};
  std::chrono::milliseconds timeout{3000};
};

// Reads the admin credentials and rm keys, builds the sources and the site
// and starts serving. Errors, with what failed in front: "admin
// credentials: ...", "rm-server key: ...", "rm admin key: ...", "cannot
// serve: ..." (code kept).
StatusOr<daemon::DaemonPtr> StartOverviewDaemon(const OverviewFlags& flags);

// The flags and Start that tvd-overview's main hands to RunDaemon.
daemon::DaemonSpec<OverviewFlags> OverviewDaemonSpec();

}  // namespace tvd::overview

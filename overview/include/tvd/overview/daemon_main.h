// The tvd-overview daemon's command line (its main only forwards argv):
//
//   tvd-overview --master ADDRESS:PORT [--master-name NAME] --ca PEM
//                --cert PEM --key PEM
//                --rm-server ENDPOINT --rm-server-key FILE --rm-key PREFIX
//                [--listen ADDRESS:PORT]      default 127.0.0.1:8480
//                [--allow-non-loopback] [--allowed-host NAME]...
//                [--refresh-seconds N]        default 5 (0: no refresh)
//                [--cache-ms N]               default 1000
//                [--timeout-ms N]             default 3000, per source query
//                [--port-file PATH]           writes the bound port
//
// Serves the overview (overview_site.h) until SIGTERM/SIGINT. Exit: 0 clean
// stop, 1 start-up failure (unreadable key, refused listen address), 2 usage.
#pragma once

#include <string>
#include <vector>

namespace tvd::overview {

int RunOverviewDaemon(const std::vector<std::string>& args);

}  // namespace tvd::overview

// `tvdctl pki ...`: the VDC certificate authority from the command line.
//
//   pki init --dir DIR [--name NAME]          create a CA in DIR
//   pki issue host|admin|tenant NAME --dir DIR  issue a certificate
//
// The logic lives in tvd_pki (pki_directory.h); this only parses arguments.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tvd::tvdctl {

// `args` are the words after "pki". Returns the process exit code: 0 on
// success (paths written are printed to `out`), 1 when the operation failed
// (reason on `err`), 2 on a usage error (usage on `err`). `--help` prints
// usage to `out` and returns 0.
int RunPkiCommand(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

}  // namespace tvd::tvdctl

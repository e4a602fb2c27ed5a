#include "tvd/daemon/run_daemon.h"

#include <iostream>
#include <optional>

#include "tvd/atomic_file.h"
#include "tvd/daemon/logging.h"
#include "tvd/log.h"

namespace tvd::daemon {

std::string Daemon::AddressFileText() const {
  return std::to_string(port()) + "\n";
}

Status Daemon::Run(StopSignals& signals) {
  const int sig = signals.Wait();
  log::Info("signal ", sig, ": stopping");
  return Status::Ok();
}

int RunDaemonWithHooks(const DaemonHooks& hooks,
                       const std::vector<std::string>& args) {
  SetUpLogging(hooks.name);
  FlagSet flags(hooks.name, hooks.summary);
  hooks.declare(flags);
  std::optional<log::Level> level;
  flags.Custom(
      "log-level", "LEVEL",
      [&level](std::string_view v) -> Status {
        TVD_ASSIGN_OR_RETURN(level, ParseLogLevel(v));
        return Status::Ok();
      },
      "debug, info, warning or error (default: TVD_LOG_LEVEL, else info)");
  std::string address_file;
  if (hooks.listens) {
    flags.Path(hooks.address_file_flag, &address_file, hooks.address_file_help);
  }
  StatusOr<ParseOutcome> outcome = flags.Parse(args);
  if (!outcome.ok()) {
    std::cerr << hooks.name << ": " << outcome.status().message() << "\n"
              << "run '" << hooks.name << " --help' for the options\n";
    return 2;
  }
  if (*outcome == ParseOutcome::kHelp) {
    std::cout << flags.Usage();
    return 0;
  }
  SetUpLogging(hooks.name, level);

  // Before Start: no thread exists yet, so all inherit the blocked mask.
  StatusOr<std::unique_ptr<StopSignals>> signals = StopSignals::Install();
  if (!signals.ok()) {
    log::Error(signals.status().ToString());
    return 1;
  }
  StatusOr<DaemonPtr> daemon = hooks.start();
  if (!daemon.ok()) {
    log::Error(daemon.status().ToString());
    return 1;
  }
  if (!address_file.empty()) {
    // Whoever waits for this file would otherwise wait forever: fail.
    if (Status s =
            WriteFileAtomically(address_file, (*daemon)->AddressFileText());
        !s.ok()) {
      log::Error("--", hooks.address_file_flag, ": ", s.ToString());
      (*daemon)->Stop();
      return 1;
    }
  }
  Status run = (*daemon)->Run(**signals);
  (*daemon)->Stop();
  if (!run.ok()) {
    log::Error(run.ToString());
    return 1;
  }
  log::Info("stopped");
  return 0;
}

}  // namespace tvd::daemon

#include "tvd/daemon/run_daemon.h"

#include <iostream>
#include <optional>

#include "tvd/daemon/logging.h"
#include "tvd/daemon/port_file.h"
#include "tvd/log.h"

namespace tvd::daemon {

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
  std::string port_file;
  if (hooks.listens) {
    flags.Path("port-file", &port_file,
               "after binding, write the bound port here (atomically)");
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
  if (!port_file.empty()) {
    // Whoever waits for this file would otherwise wait forever: fail.
    if (Status s = WritePortFile(port_file, (*daemon)->port()); !s.ok()) {
      log::Error("--port-file: ", s.ToString());
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

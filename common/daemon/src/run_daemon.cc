#include "tvd/daemon/run_daemon.h"

#include <iostream>
#include <optional>

#include "tvd/atomic_file.h"
#include "tvd/daemon/logging.h"
#include "tvd/daemon/sd_notify.h"
#include "tvd/daemon/startup_checks.h"
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
  if (!flags.Has("config")) {
    // One file per daemon (/etc/tvd/NAME.conf) in the form every daemon
    // already reads: the flags' names as keys.
    flags.ConfigFile("config",
                     "a file of these options as 'key = value' lines (the "
                     "names without dashes); the command line wins");
  }
  StatusOr<ParseOutcome> outcome = flags.Parse(args);
  if (!outcome.ok()) {
    const Status explained =
        WithConfigFix(outcome.status(), hooks.name + " --help");
    std::cerr << hooks.name << ": " << explained.message() << "\n";
    if (explained == outcome.status()) {
      std::cerr << "run '" << hooks.name << " --help' for the options\n";
    }
    return 2;
  }
  if (*outcome == ParseOutcome::kHelp) {
    std::cout << flags.Usage();
    return 0;
  }
  SetUpLogging(hooks.name, level);

  // Before any thread: FromEnvironment unsets NOTIFY_SOCKET.
  StatusOr<Notifier> notifier = Notifier::FromEnvironment();
  if (!notifier.ok()) {
    log::Error(notifier.status().ToString());
    return 1;
  }
  if (hooks.check) {
    if (Status s = hooks.check(); !s.ok()) {
      log::Error(WithConfigFix(s, hooks.name + " --help").ToString());
      return 1;
    }
  }

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
  // Listening (and the address file written): the unit is up.
  if (Status s = notifier->Notify("READY=1"); !s.ok()) {
    log::Error(s.ToString());
    (*daemon)->Stop();
    return 1;
  }
  Status run = (*daemon)->Run(**signals);
  // Told before Stop, which may take a while (children, connections).
  if (Status s = notifier->Notify("STOPPING=1"); !s.ok()) {
    log::Warning(s.ToString());
  }
  (*daemon)->Stop();
  if (!run.ok()) {
    log::Error(run.ToString());
    return 1;
  }
  log::Info("stopped");
  return 0;
}

}  // namespace tvd::daemon

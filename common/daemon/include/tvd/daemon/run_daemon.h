// How every daemon starts (docs/architecture.md, "How a daemon starts").
//
// A daemon's library describes itself with a DaemonSpec: its flags (bound to
// an Options struct) and a Start that does the wiring (reads files, builds
// the real seams, binds). Its main.cc is then one call:
//
//   int main(int argc, char** argv) {
//     return tvd::daemon::RunDaemon(tvd::master::MasterDaemonSpec(), argc,
//                                   argv);
//   }
//
// RunDaemon: names the log component → parses the flags (plus --log-level,
// --port-file for a daemon that listens, and --config FILE of the same keys
// for a daemon that declares no "config" flag itself) → takes NOTIFY_SOCKET
// (sd_notify.h) → the spec's check (startup_checks.h) → blocks the stop
// signals (stop_signals.h) before any thread starts → Start(options) →
// writes the bound port to --port-file (rm-server: its endpoints to
// --endpoints-file) → READY=1 to the service manager → Daemon::Run (waits
// for SIGTERM/SIGINT, or the daemon's own loop) → STOPPING=1 →
// Daemon::Stop.
//
// Exit codes: 0 after a clean stop (and after --help), 2 for a usage error
// (printed as "NAME: WHY" on stderr, then a line pointing at --help; an
// unknown or missing key of a config file is one line "NAME: WHY; fix:
// ..."), 1 when the check or the start failed, the port file could not be
// written, the service manager could not be told, or Run returned an error
// (logged, one line).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tvd/daemon/flags.h"
#include "tvd/daemon/stop_signals.h"
#include "tvd/status.h"

namespace tvd::daemon {

// A started daemon, as RunDaemon drives it.
class Daemon {
 public:
  virtual ~Daemon() = default;

  // The TCP port it bound (written to --port-file).
  virtual std::uint16_t port() const { return 0; }

  // What the address file (--port-file) holds: by default port() and a
  // newline; a daemon that binds several endpoints says where it listens.
  virtual std::string AddressFileText() const;

  // Serves until a stop signal arrives, or until the daemon is done by
  // itself (a tvd-proxy that left its TVD). The default waits for a stop
  // signal; a daemon with its own event loop polls signals.fd() there. An
  // error makes the exit code 1.
  virtual Status Run(StopSignals& signals);

  // Stops cleanly; called once after Run returned (also when the port file
  // could not be written).
  virtual void Stop() {}
};

using DaemonPtr = std::unique_ptr<Daemon>;

template <typename Options>
struct DaemonSpec {
  std::string name;      // program name and log component ("tvd-master")
  std::string summary;   // the line under "usage:" in --help
  bool listens = false;  // offers --port-file (Daemon::port() is meaningful)
  // The flag naming the address file when `listens` (rm-server's is
  // "endpoints-file", with its help line).
  std::string address_file_flag = "port-file";
  std::string address_file_help =
      "after binding, write the bound port here (atomically)";
  // Declares the daemon's flags in `flags`, bound to fields of `options`.
  std::function<void(FlagSet& flags, Options& options)> declare;
  // Starts the daemon from parsed options (the wiring). Errors exit 1.
  std::function<StatusOr<DaemonPtr>(Options& options)> start;
  // Optional: checks the files and directories the options name before
  // anything starts (startup_checks.h), so bad configuration fails with one
  // line naming the file and the fix. Errors exit 1; Start is not called.
  std::function<Status(const Options& options)> check;
};

// Parses `args` with the spec's flags (only those: not --port-file or
// --log-level) into Options. --help is an InvalidArgument "--help asks for
// the usage". For tests of a daemon's flags and for RunDaemon.
template <typename Options>
StatusOr<Options> ParseDaemonFlags(const DaemonSpec<Options>& spec,
                                   const std::vector<std::string>& args) {
  Options options;
  FlagSet flags(spec.name, spec.summary);
  spec.declare(flags, options);
  TVD_ASSIGN_OR_RETURN(ParseOutcome outcome, flags.Parse(args));
  if (outcome == ParseOutcome::kHelp) {
    return InvalidArgument("--help asks for the usage");
  }
  return options;
}

// The type-erased driver behind RunDaemon (see the file comment).
struct DaemonHooks {
  std::string name;
  std::string summary;
  bool listens = false;
  std::string address_file_flag;
  std::string address_file_help;
  std::function<void(FlagSet&)> declare;
  std::function<StatusOr<DaemonPtr>()> start;
  std::function<Status()> check;  // empty: nothing to check
};
int RunDaemonWithHooks(const DaemonHooks& hooks,
                       const std::vector<std::string>& args);

template <typename Options>
int RunDaemon(const DaemonSpec<Options>& spec,
              const std::vector<std::string>& args) {
  Options options;
  return RunDaemonWithHooks(
      {spec.name, spec.summary, spec.listens, spec.address_file_flag,
       spec.address_file_help,
       [&](FlagSet& flags) { spec.declare(flags, options); },
       [&]() { return spec.start(options); },
       spec.check
           ? std::function<Status()>([&]() { return spec.check(options); })
           : std::function<Status()>()},
      args);
}

template <typename Options>
int RunDaemon(const DaemonSpec<Options>& spec, int argc, char** argv) {
  return RunDaemon(spec, std::vector<std::string>(argv + 1, argv + argc));
}

}  // namespace tvd::daemon

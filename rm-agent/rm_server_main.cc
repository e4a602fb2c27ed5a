// rm-server: its flags and wiring are in rm_daemons.h; main adds the
// start-up checks of the keys and allow-lists it names (startup_checks.h).
#include <string>
#include <vector>

#include "tvd/daemon/run_daemon.h"
#include "tvd/daemon/startup_checks.h"
#include "tvd/rm/rm_daemons.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "keygen") return tvd::rm::RunKeygen(args);
  auto spec = tvd::rm::RmServerDaemonSpec();
  spec.check = [](const tvd::rm::RmServerFlags& f) -> tvd::Status {
    using namespace tvd::daemon;
    // A CURVE key pair PREFIX: PREFIX.secret and PREFIX.pub (curve_keys.h).
    TVD_RETURN_IF_ERROR(CheckPrivateKeyFile(f.key + ".secret", "key"));
    TVD_RETURN_IF_ERROR(CheckReadableFile(f.key + ".pub", "key"));
    TVD_RETURN_IF_ERROR(CheckReadableFile(f.agents, "agents"));
    return CheckReadableFile(f.admins, "admins");
  };
  return tvd::daemon::RunDaemon(spec, args);
}

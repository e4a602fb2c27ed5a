// tvd-overview: its flags and wiring are in overview_daemon.h; main adds
// the start-up checks of the keys it names (startup_checks.h).
#include "tvd/daemon/run_daemon.h"
#include "tvd/daemon/startup_checks.h"
#include "tvd/overview/overview_daemon.h"

int main(int argc, char** argv) {
  auto spec = tvd::overview::OverviewDaemonSpec();
  spec.check = [](const tvd::overview::OverviewFlags& o) -> tvd::Status {
    using namespace tvd::daemon;
    TVD_RETURN_IF_ERROR(CheckReadableFile(o.ca, "ca"));
    TVD_RETURN_IF_ERROR(CheckReadableFile(o.cert, "cert"));
    TVD_RETURN_IF_ERROR(CheckPrivateKeyFile(o.key, "key"));
    TVD_RETURN_IF_ERROR(CheckReadableFile(o.rm_server_key, "rm-server-key"));
    // A CURVE key pair PREFIX: PREFIX.secret and PREFIX.pub (curve_keys.h).
    TVD_RETURN_IF_ERROR(CheckPrivateKeyFile(o.rm_key + ".secret", "rm-key"));
    return CheckReadableFile(o.rm_key + ".pub", "rm-key");
  };
  return tvd::daemon::RunDaemon(spec, argc, argv);
}

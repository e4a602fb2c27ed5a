// libvirt-filter: its flags and wiring are in relay_daemon.h; main adds the
// start-up checks of the credentials it names (startup_checks.h).
#include "tvd/daemon/run_daemon.h"
#include "tvd/daemon/startup_checks.h"
#include "tvd/libvirt_filter/relay_daemon.h"

int main(int argc, char** argv) {
  auto spec = tvd::libvirt_filter::RelayDaemonSpec();
  spec.check = [](const tvd::libvirt_filter::RelayConfig& c) -> tvd::Status {
    using namespace tvd::daemon;
    TVD_RETURN_IF_ERROR(CheckReadableFile(c.ca_cert_path, "ca-cert"));
    TVD_RETURN_IF_ERROR(CheckReadableFile(c.cert_path, "cert"));
    return CheckPrivateKeyFile(c.key_path, "key");
  };
  return tvd::daemon::RunDaemon(spec, argc, argv);
}

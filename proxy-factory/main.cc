// proxy-factory: its flags and wiring are in factory_daemon.h.
#include "tvd/daemon/run_daemon.h"
#include "tvd/proxy_factory/factory_daemon.h"

int main(int argc, char** argv) {
  return tvd::daemon::RunDaemon(tvd::host::FactoryDaemonSpec(), argc, argv);
}

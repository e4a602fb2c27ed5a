// libvirt-filter: its flags and wiring are in relay_daemon.h.
#include "tvd/daemon/run_daemon.h"
#include "tvd/libvirt_filter/relay_daemon.h"

int main(int argc, char** argv) {
  return tvd::daemon::RunDaemon(tvd::libvirt_filter::RelayDaemonSpec(), argc,
                                argv);
}

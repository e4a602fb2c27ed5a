// tvd-master: its flags and wiring are in master_daemon.h.
#include "tvd/daemon/run_daemon.h"
#include "tvd/master/master_daemon.h"

int main(int argc, char** argv) {
  return tvd::daemon::RunDaemon(tvd::master::MasterDaemonSpec(), argc, argv);
}

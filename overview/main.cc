// tvd-overview: its flags and wiring are in overview_daemon.h.
#include "tvd/daemon/run_daemon.h"
#include "tvd/overview/overview_daemon.h"

int main(int argc, char** argv) {
  return tvd::daemon::RunDaemon(tvd::overview::OverviewDaemonSpec(), argc,
                                argv);
}

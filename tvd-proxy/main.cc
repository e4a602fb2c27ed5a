// tvd-proxy: its flags and wiring are in proxy_daemon.h.
#include "tvd/daemon/run_daemon.h"
#include "tvd/proxy/proxy_daemon.h"

int main(int argc, char** argv) {
  return tvd::daemon::RunDaemon(tvd::proxy::ProxyDaemonSpec(), argc, argv);
}

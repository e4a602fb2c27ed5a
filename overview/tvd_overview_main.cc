// tvd-overview: forwards argv to RunOverviewDaemon (daemon_main.h).
#include <string>
#include <vector>

#include "tvd/overview/daemon_main.h"

int main(int argc, char** argv) {
  return tvd::overview::RunOverviewDaemon(
      std::vector<std::string>(argv + 1, argv + argc));
}

// tvd-master: loads its configuration, starts the master and runs until
// SIGTERM or SIGINT. Usage: tvd-master --config FILE
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tvd/log.h"
#include "tvd/master/master_main.h"

int main(int argc, char** argv) {
  tvd::log::SetComponent("tvd-master");
  if (argc != 3 || std::strcmp(argv[1], "--config") != 0) {
    std::fprintf(stderr, "usage: tvd-master --config FILE\n");
    return 2;
  }
  return tvd::master::RunMaster(argv[2]);
}

// rm-server: forwards argv to RunRmServerMain (daemon_main.h).
#include <string>
#include <vector>

#include "tvd/rm/daemon_main.h"

int main(int argc, char** argv) {
  return tvd::rm::RunRmServerMain(
      std::vector<std::string>(argv + 1, argv + argc));
}

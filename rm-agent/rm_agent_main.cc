// rm-agent: forwards argv to RunRmAgentMain (daemon_main.h).
#include <string>
#include <vector>

#include "tvd/rm/daemon_main.h"

int main(int argc, char** argv) {
  return tvd::rm::RunRmAgentMain(
      std::vector<std::string>(argv + 1, argv + argc));
}

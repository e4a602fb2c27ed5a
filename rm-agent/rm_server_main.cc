// rm-server: its flags and wiring are in rm_daemons.h.
#include <string>
#include <vector>

#include "tvd/rm/rm_daemons.h"

int main(int argc, char** argv) {
  return tvd::rm::RunRmServerMain(
      std::vector<std::string>(argv + 1, argv + argc));
}

// tvdctl: forwards argv to the command dispatcher (dispatcher.h).
#include <iostream>
#include <string>
#include <vector>

#include "tvd/tvdctl/dispatcher.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return tvd::tvdctl::RunTvdctl(args, std::cout, std::cerr);
}

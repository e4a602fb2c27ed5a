// tvdctl's top level: a table of command groups ("policy", "pki", ...), each
// a function that receives the arguments after the group name.
//
// Exit codes, for every group: 0 success, 1 the operation failed (invalid
// input, refused, unreachable daemon), 2 usage error. Errors go to `err`,
// results to `out`; nothing is written anywhere else.
#pragma once

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tvd::tvdctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using CommandFn = int (*)(const std::vector<std::string>& args,
                          std::ostream& out, std::ostream& err);

struct CommandGroup {
  std::string_view name;
  std::string_view summary;
  CommandFn run;
};

// The groups this build has, in help order.
std::span<const CommandGroup> CommandGroups();

// `args` excludes the program name: {"policy", "validate", "x.xml"}.
int RunTvdctl(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

}  // namespace tvd::tvdctl

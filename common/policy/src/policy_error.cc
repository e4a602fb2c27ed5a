#include "tvd/policy/policy_error.h"

namespace tvd::policy {

Status PolicyError(std::string_view file, int line, std::string_view message) {
  std::string m;
  m.reserve(file.size() + message.size() + 16);
  m.append(file).append(":").append(std::to_string(line)).append(": ");
  m.append(message);
  return InvalidArgument(std::move(m));
}

}  // namespace tvd::policy

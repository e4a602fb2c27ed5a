#include "tvd/daemon/flags.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "tvd/text.h"

namespace tvd::daemon {

FlagSet::Flag& FlagSet::Flag::Required() {
  required = true;
  return *this;
}

FlagSet::Flag& FlagSet::Flag::Default(std::string text) {
  default_text = std::move(text);
  return *this;
}

FlagSet::Flag& FlagSet::Flag::Repeatable() {
  repeated = true;
  return *this;
}

FlagSet::FlagSet(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

FlagSet::Flag& FlagSet::Add(std::string name, std::string value_name,
                            std::function<Status(std::string_view)> apply,
                            std::string help) {
  auto flag = std::make_unique<Flag>();
  flag->name = std::move(name);
  flag->value_name = std::move(value_name);
  flag->apply = std::move(apply);
  flag->help = std::move(help);
  flags_.push_back(std::move(flag));
  return *flags_.back();
}

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (auto& f : flags_) {
    if (f->name == name) return f.get();
  }
  return nullptr;
}

bool FlagSet::Has(std::string_view name) const {
  for (const auto& f : flags_) {
    if (f->name == name) return true;
  }
  return false;
}

FlagSet::Flag& FlagSet::String(std::string name, std::string* out,
                               std::string help) {
  return Add(
      std::move(name), "TEXT",
      [out](std::string_view v) {
        *out = std::string(v);
        return Status::Ok();
      },
      std::move(help));
}

FlagSet::Flag& FlagSet::Path(std::string name, std::string* out,
                             std::string help, bool absolute) {
  return Add(
      std::move(name), "PATH",
      [out, absolute](std::string_view v) -> Status {
        if (v.empty()) return InvalidArgument("an empty path");
        if (v.find('\0') != std::string_view::npos) {
          return InvalidArgument("a path with a NUL byte");
        }
        if (absolute && v.front() != '/') {
          return InvalidArgument("'" + std::string(v) +
                                 "' is not an absolute path");
        }
        *out = std::string(v);
        return Status::Ok();
      },
      std::move(help));
}

FlagSet::Flag& FlagSet::Duration(std::string name,
                                 std::chrono::milliseconds* out,
                                 DurationUnit bare_unit,
                                 std::chrono::milliseconds min,
                                 std::chrono::milliseconds max,
                                 std::string help) {
  return Add(
      std::move(name), "DURATION",
      [=](std::string_view v) -> Status {
        TVD_ASSIGN_OR_RETURN(*out, ParseDuration(v, bare_unit, min, max));
        return Status::Ok();
      },
      std::move(help));
}

FlagSet::Flag& FlagSet::Endpoint(std::string name, daemon::Endpoint* out,
                                 EndpointRules rules, std::string help) {
  return Add(
      std::move(name), "ADDRESS:PORT",
      [=](std::string_view v) -> Status {
        TVD_ASSIGN_OR_RETURN(*out, ParseEndpoint(v, rules));
        return Status::Ok();
      },
      std::move(help));
}

FlagSet::Flag& FlagSet::Bool(std::string name, bool* out, std::string help) {
  return Add(
      std::move(name), "",
      [out](std::string_view v) -> Status {
        TVD_ASSIGN_OR_RETURN(*out, ParseBool(v));
        return Status::Ok();
      },
      std::move(help));
}

FlagSet::Flag& FlagSet::Repeated(std::string name,
                                 std::vector<std::string>* out,
                                 std::string help) {
  Flag& f = Add(
      std::move(name), "TEXT",
      [out](std::string_view v) {
        out->emplace_back(v);
        return Status::Ok();
      },
      std::move(help));
  f.repeated = true;
  return f;
}

FlagSet::Flag& FlagSet::Custom(std::string name, std::string value_name,
                               std::function<Status(std::string_view)> apply,
                               std::string help) {
  return Add(std::move(name), std::move(value_name), std::move(apply),
             std::move(help));
}

FlagSet::Flag& FlagSet::ConfigFile(std::string name, std::string help) {
  Flag& f = Add(
      std::move(name), "FILE", [](std::string_view) { return Status::Ok(); },
      std::move(help));
  f.config_file = true;
  f.repeated = true;
  return f;
}

StatusOr<ParseOutcome> FlagSet::Parse(const std::vector<std::string>& args) {
  struct Given {
    Flag* flag;
    std::string value;
  };
  std::vector<Given> given;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return ParseOutcome::kHelp;
    if (!a.starts_with("--") || a.size() == 2) {
      return InvalidArgument("unexpected argument '" + a + "'");
    }
    const std::size_t eq = a.find('=');
    const std::string name =
        a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return InvalidArgument("unknown option '--" + name + "'");
    }
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (flag->value_name.empty()) {
      value = "true";  // a boolean given bare
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      value = args[++i];
    } else {
      return InvalidArgument("--" + name + " needs a value");
    }
    if (++flag->from_command_line > 1 && !flag->repeated) {
      return InvalidArgument("--" + name + " given twice");
    }
    given.push_back({flag, std::move(value)});
  }
  // Files first, so that the command line wins whatever the order.
  for (const Given& g : given) {
    if (g.flag->config_file) TVD_RETURN_IF_ERROR(ReadConfigFile(g.value));
  }
  for (const Given& g : given) {
    if (g.flag->config_file) continue;
    Status s = g.flag->apply(g.value);
    if (!s.ok())
      return InvalidArgument("--" + g.flag->name + ": " + s.message());
  }
  for (const auto& f : flags_) {
    if (f->required && f->from_command_line == 0 && f->from_file == 0) {
      return InvalidArgument("--" + f->name + " is required");
    }
  }
  return ParseOutcome::kRun;
}

Status FlagSet::ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("config " + path + " cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfigText(buffer.str(), path);
}

Status FlagSet::ParseConfigText(std::string_view text,
                                std::string_view source) {
  int number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = TrimWhitespace(text.substr(0, nl));
    text =
        nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    const std::string where =
        std::string(source) + ":" + std::to_string(number) + ": ";
    if (line.empty() || line.front() == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(where + "expected 'key = value'");
    }
    const std::string key(TrimWhitespace(line.substr(0, eq)));
    const std::string_view value = TrimWhitespace(line.substr(eq + 1));
    Flag* flag = Find(key);
    // A file names no further files: no loops, one place to look.
    if (flag == nullptr || flag->config_file) {
      return InvalidArgument(where + "unknown key '" + key + "'");
    }
    if (++flag->from_file > 1 && !flag->repeated) {
      return InvalidArgument(where + "key '" + key + "' given twice");
    }
    if (flag->from_command_line > 0) continue;  // the command line wins
    Status s = flag->apply(value);
    if (!s.ok()) {
      return InvalidArgument(where + "key '" + key + "': " + s.message());
    }
  }
  return Status::Ok();
}

Status FlagSet::CheckRequiredKeys(std::string_view source) const {
  for (const auto& f : flags_) {
    if (f->required && f->from_command_line == 0 && f->from_file == 0) {
      return InvalidArgument(std::string(source) + ": missing key '" + f->name +
                             "'");
    }
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const {
  std::string out = "usage: " + program_ + " [options]\n";
  if (!summary_.empty()) out += summary_ + "\n";
  for (const auto& f : flags_) {
    out += "  --" + f->name;
    if (!f->value_name.empty()) out += " " + f->value_name;
    if (f->repeated && !f->config_file) out += " (repeatable)";
    out += "\n      " + f->help;
    if (f->required) {
      out += " (required)";
    } else if (!f->default_text.empty()) {
      out += " (default " + f->default_text + ")";
    }
    out += "\n";
  }
  out += "  --help\n      prints this text\n";
  return out;
}

}  // namespace tvd::daemon

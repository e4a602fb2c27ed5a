// Typed command-line flags and config-file keys, declared once per daemon.
//
// A daemon declares each flag with its type, where the value goes and a help
// line; Parse then reads argv and ParseConfigText a "key = value" file with
// the same declarations, so a flag and its config key never disagree.
//
//   FlagSet flags("tvd-overview", "serves the VDC overview page");
//   flags.Endpoint("listen", &o.listen, {.allow_port_zero = true},
//                  "where to serve");
//   flags.Path("ca", &o.ca, "the VDC CA (PEM)").Required();
//   StatusOr<ParseOutcome> r = flags.Parse(args);
//
// Command line: "--name=value" or "--name value" (a value given as the next
// argument may not start with "--", so a forgotten value is caught);
// booleans as "--name" or "--name=true|false"; "--help" or "-h" asks for
// Usage(). A flag declared with ConfigFile reads a file of the same keys
// (names without the dashes); values on the command line win over the file,
// whatever the order.
//
// Errors are InvalidArgument values naming the flag and why, exactly:
//   "unknown option '--NAME'"            "unexpected argument 'TEXT'"
//   "--NAME needs a value"               "--NAME is required"
//   "--NAME given twice"                 "--NAME: WHY" (a bad value; WHY
//                                         from values.h / endpoint.h)
//   "--NAME takes no value"              (a flag that is not a boolean)
// and in a config file SOURCE (line N):
//   "SOURCE:N: expected 'key = value'"   "SOURCE:N: unknown key 'K'"
//   "SOURCE:N: key 'K' given twice"      "SOURCE:N: key 'K': WHY"
// Nothing is half-applied that a caller could use: on an error the caller
// must discard the targets.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/values.h"
#include "tvd/status.h"

namespace tvd::daemon {

enum class ParseOutcome {
  kRun,   // every flag read: start the daemon
  kHelp,  // --help: print Usage() and exit 0
};

class FlagSet {
 public:
  // One declared flag; the declaration functions return it so that the
  // caller can refine it.
  class Flag {
   public:
    // Parse fails with "--NAME is required" when it was not given (on the
    // command line or in a config file).
    Flag& Required();
    // The default shown in Usage() ("default 127.0.0.1:8480").
    Flag& Default(std::string text);
    // May be given more than once (each value applied in turn), where
    // otherwise a second one is "--NAME given twice".
    Flag& Repeatable();

   private:
    friend class FlagSet;
    std::string name;
    std::string value_name;  // "PATH", "N", ...; empty: a boolean
    std::string help;
    std::string default_text;
    bool required = false;
    bool repeated = false;
    bool config_file = false;
    std::function<Status(std::string_view)> apply;
    // Where the value came from, for "given twice" and "flags win".
    int from_command_line = 0;
    int from_file = 0;
  };

  explicit FlagSet(std::string program, std::string summary = "");
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Any text, the empty string included.
  Flag& String(std::string name, std::string* out, std::string help);
  // A file or directory name: not empty, no NUL. With `absolute`, it must
  // start with '/' ("'p' is not an absolute path").
  Flag& Path(std::string name, std::string* out, std::string help,
             bool absolute = false);
  // A decimal integer in [min, max] (values.h ParseInteger).
  template <std::integral T>
  Flag& Integer(std::string name, T* out, T min, T max, std::string help) {
    return Custom(
        std::move(name), "N",
        [out, min, max](std::string_view v) -> Status {
          TVD_ASSIGN_OR_RETURN(std::int64_t n, ParseInteger(v, min, max));
          *out = static_cast<T>(n);
          return Status::Ok();
        },
        std::move(help));
  }
  // A duration (values.h ParseDuration) in [min, max].
  Flag& Duration(std::string name, std::chrono::milliseconds* out,
                 DurationUnit bare_unit, std::chrono::milliseconds min,
                 std::chrono::milliseconds max, std::string help);
  // ADDRESS:PORT (endpoint.h) under `rules`.
  Flag& Endpoint(std::string name, daemon::Endpoint* out, EndpointRules rules,
                 std::string help);
  // "--name" sets true; "--name=VALUE" takes ParseBool.
  Flag& Bool(std::string name, bool* out, std::string help);
  // May be given any number of times; each value is appended.
  Flag& Repeated(std::string name, std::vector<std::string>* out,
                 std::string help);
  // Any other type: `apply` checks and stores the value, or returns an
  // InvalidArgument saying why not (the flag's name is added in front).
  Flag& Custom(std::string name, std::string value_name,
               std::function<Status(std::string_view)> apply, std::string help);
  // A file of "key = value" lines with the keys of this set (ParseConfig
  // Text); read while Parse runs.
  Flag& ConfigFile(std::string name, std::string help);

  // Reads `args` (argv without the program name); call it once. Applies
  // command-line values after the config files they name, then checks required
  // flags.
  StatusOr<ParseOutcome> Parse(const std::vector<std::string>& args);

  // Applies a config file's text: one "key = value" per line, '#' comments
  // and blank lines ignored, spaces around key and value trimmed. Keys
  // already set on the command line keep their command-line value.
  // Required flags are not checked here (Parse does that).
  Status ParseConfigText(std::string_view text, std::string_view source);

  // After the last ParseConfigText of a daemon that has only a config file
  // (no command line): InvalidArgument "SOURCE: missing key 'K'" for the
  // first required key no file set.
  Status CheckRequiredKeys(std::string_view source) const;

  // "usage: PROGRAM [flags]\nSUMMARY\n" and one block per flag, in the order
  // declared: "  --name VALUE  help (required|default ...)".
  std::string Usage() const;

  const std::string& program() const { return program_; }

  // True when a flag `name` (without dashes) is declared.
  bool Has(std::string_view name) const;

 private:
  Flag& Add(std::string name, std::string value_name,
            std::function<Status(std::string_view)> apply, std::string help);
  Flag* Find(std::string_view name);
  Status ReadConfigFile(const std::string& path);

  std::string program_;
  std::string summary_;
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace tvd::daemon

// Fuzzes the flag and config-key parsers of every daemon (daemon/flags.h)
// and the value parsers under them. The first byte picks the input: argv
// (NUL-separated arguments), a config file, or one ADDRESS:PORT / duration.
// They must never crash; an endpoint that parses prints back to text that
// parses to the same endpoint; a parse that succeeds leaves every bounded
// value inside its bounds.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/flags.h"
#include "tvd/daemon/values.h"

namespace {

using std::chrono::milliseconds;
using tvd::daemon::DurationUnit;
using tvd::daemon::Endpoint;
using tvd::daemon::FlagSet;

struct Options {
  std::string name;
  std::string path;
  int count = 1;
  milliseconds interval{1000};
  Endpoint listen{"127.0.0.1", 1};
  Endpoint peer{"127.0.0.1", 1};
  bool flag = false;
  std::vector<std::string> many;
};

void Declare(FlagSet& flags, Options& o) {
  flags.String("name", &o.name, "");
  flags.Path("path", &o.path, "", /*absolute=*/true).Required();
  flags.Integer("count", &o.count, -5, 100, "");
  flags.Duration("interval", &o.interval, DurationUnit::kSeconds,
                 milliseconds(1), milliseconds(3600000), "");
  flags.Endpoint("listen", &o.listen, {.allow_port_zero = true}, "");
  flags.Endpoint("peer", &o.peer, {.allow_host_name = true}, "");
  flags.Bool("flag", &o.flag, "");
  flags.Repeated("many", &o.many, "");
}

void CheckBounds(const Options& o, bool required_seen) {
  if (o.count < -5 || o.count > 100) std::abort();
  if (o.interval < milliseconds(1) || o.interval > milliseconds(3600000)) {
    std::abort();
  }
  if (o.peer.port == 0) std::abort();
  if (required_seen && (o.path.empty() || o.path.front() != '/')) {
    std::abort();
  }
}

void CheckEndpoint(std::string_view text, tvd::daemon::EndpointRules rules) {
  auto e = tvd::daemon::ParseEndpoint(text, rules);
  if (!e.ok()) return;
  if (e->port == 0 && !rules.allow_port_zero) std::abort();
  auto again = tvd::daemon::ParseEndpoint(e->ToString(), rules);
  if (!again.ok() || !(*again == *e)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {  // argv
      std::vector<std::string> args;
      std::size_t start = 0;
      for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '\0') {
          args.push_back(text.substr(start, i - start));
          start = i + 1;
        }
      }
      Options o;
      FlagSet flags("fuzz");
      Declare(flags, o);
      auto r = flags.Parse(args);
      if (r.ok() && *r == tvd::daemon::ParseOutcome::kRun) CheckBounds(o, true);
      break;
    }
    case 1: {  // a config file
      Options o;
      FlagSet flags("fuzz");
      Declare(flags, o);
      if (flags.ParseConfigText(text, "fuzz.conf").ok()) {
        CheckBounds(o, flags.CheckRequiredKeys("fuzz.conf").ok());
      }
      break;
    }
    case 2:  // one endpoint, under each rule
      CheckEndpoint(text, {});
      CheckEndpoint(text, {.allow_port_zero = true});
      CheckEndpoint(text, {.allow_host_name = true});
      break;
    case 3: {  // one duration and one integer
      auto d = tvd::daemon::ParseDuration(text, DurationUnit::kMilliseconds,
                                          milliseconds(0), milliseconds(1000));
      if (d.ok() && (*d < milliseconds(0) || *d > milliseconds(1000))) {
        std::abort();
      }
      auto n = tvd::daemon::ParseInteger(text, -100, 100);
      if (n.ok() && (*n < -100 || *n > 100)) std::abort();
      break;
    }
  }
  return 0;
}

// Fuzzes the line-based file parsers: the first byte picks the parser, the
// rest is the file. They must never crash; every name the joined-TVD parser
// keeps is valid and unique, and what it keeps survives a write-out and a
// second parse unchanged; the admin config fills only known fields.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "tvd/host/control_protocol.h"
#include "tvd/proxy_factory/joined_tvds.h"
#include "tvd/tvdctl/tvd_command.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    tvd::host::JoinedTvds j = tvd::host::ParseJoinedTvds(text, "joined");
    std::set<std::string> unique(j.names.begin(), j.names.end());
    if (unique.size() != j.names.size()) std::abort();
    std::string written;
    for (const std::string& n : j.names) {
      if (!tvd::host::IsValidControlName(n)) std::abort();
      written += n + "\n";
    }
    tvd::host::JoinedTvds again = tvd::host::ParseJoinedTvds(written, "joined");
    if (again.names != j.names || !again.problems.empty()) std::abort();
  } else {
    tvd::tvdctl::MasterConnection c;
    tvd::Status s = tvd::tvdctl::ApplyAdminConfig(text, "admin.conf", c);
    if (s.ok() && text.find('=') == std::string::npos &&
        !(c.master.empty() && c.master_name.empty() && c.ca.empty() &&
          c.cert.empty() && c.key.empty())) {
      std::abort();
    }
  }
  return 0;
}

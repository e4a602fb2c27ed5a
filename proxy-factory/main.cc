// proxy-factory: its flags and wiring are in factory_daemon.h; main adds
// the start-up checks (startup_checks.h) of what every tvd-proxy it starts
// will read, so that a bad key fails the factory's start and not, later,
// each join.
#include <unistd.h>

#include <string>
#include <string_view>

#include "tvd/daemon/run_daemon.h"
#include "tvd/daemon/startup_checks.h"
#include "tvd/proxy_factory/factory_daemon.h"

namespace {

tvd::Status CheckProxyFiles(const tvd::host::FactoryFlags& f) {
  using namespace tvd::daemon;
  // Each proxy creates the state directory (mode 0700) when it is missing;
  // one that exists must already be fit for it.
  if (!f.state_dir.empty() && ::access(f.state_dir.c_str(), F_OK) == 0) {
    TVD_RETURN_IF_ERROR(CheckStateDirectory(f.state_dir, "state-dir"));
  }
  // The proxies' credentials, given as --proxy-arg=--NAME=PATH.
  for (const std::string& arg : f.proxy_args) {
    for (std::string_view name : {"ca", "cert", "key"}) {
      const std::string prefix = "--" + std::string(name) + "=";
      if (!arg.starts_with(prefix)) continue;
      const std::string path = arg.substr(prefix.size());
      const std::string setting =
          "proxy-arg " + prefix.substr(0, prefix.size() - 1);
      TVD_RETURN_IF_ERROR(name == "key" ? CheckPrivateKeyFile(path, setting)
                                        : CheckReadableFile(path, setting));
    }
  }
  return tvd::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  auto spec = tvd::host::FactoryDaemonSpec();
  spec.check = CheckProxyFiles;
  return tvd::daemon::RunDaemon(spec, argc, argv);
}

// tvd-master: its flags and wiring are in master_daemon.h; main adds the
// start-up checks of the files its config names (startup_checks.h).
#include <filesystem>
#include <string>

#include "tvd/daemon/run_daemon.h"
#include "tvd/daemon/startup_checks.h"
#include "tvd/master/config.h"
#include "tvd/master/master_daemon.h"

namespace {

// The KEK is not checked here: key_wrap.h refuses a loose or foreign one
// at start with its own message, before anything is bound.
tvd::Status CheckMasterFiles(const tvd::master::MasterFlags& flags) {
  using namespace tvd::daemon;
  auto loaded = tvd::master::LoadMasterConfig(flags.config);
  if (!loaded.ok()) {
    // Its keys are not flags: --help does not list them.
    return WithConfigFix(loaded.status(), "docs/master.md");
  }
  const tvd::master::MasterConfig& c = *loaded;
  auto in = [&](const char* key) {
    return std::string(key) + " in " + flags.config;
  };
  TVD_RETURN_IF_ERROR(CheckReadableFile(c.ca_cert, in("ca_cert")));
  TVD_RETURN_IF_ERROR(CheckReadableFile(c.cert, in("cert")));
  TVD_RETURN_IF_ERROR(CheckPrivateKeyFile(c.key, in("key")));
  TVD_RETURN_IF_ERROR(CheckReadableFile(c.ek_allowlist, in("ek_allowlist")));
  if (!c.state_db.empty()) {
    // The SQLite file and its journal are created beside it.
    TVD_RETURN_IF_ERROR(CheckStateDirectory(
        std::filesystem::path(c.state_db).parent_path().string(),
        "the directory of state_db in " + flags.config));
  }
  return tvd::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  auto spec = tvd::master::MasterDaemonSpec();
  spec.check = CheckMasterFiles;
  return tvd::daemon::RunDaemon(spec, argc, argv);
}

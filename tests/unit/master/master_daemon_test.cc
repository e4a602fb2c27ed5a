// tvd-master's flags and start-up wiring (master_daemon.h), as main runs
// them: the errors a wrong command line or a missing file gives.
#include "tvd/master/master_daemon.h"

#include <gtest/gtest.h>

#include "tvd/testing/files.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/temp_dir.h"

namespace tvd::master {
namespace {

TEST(MasterDaemonTest, Flags) {
  auto f = daemon::ParseDaemonFlags(MasterDaemonSpec(), {"--config", "/m"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config, "/m");
  EXPECT_EQ(daemon::ParseDaemonFlags(MasterDaemonSpec(), {}).status(),
            InvalidArgument("--config is required"));
  EXPECT_EQ(daemon::ParseDaemonFlags(MasterDaemonSpec(), {"--config"}).status(),
            InvalidArgument("--config needs a value"));
  EXPECT_EQ(daemon::ParseDaemonFlags(MasterDaemonSpec(), {"/m"}).status(),
            InvalidArgument("unexpected argument '/m'"));
}

TEST(MasterDaemonTest, StartNamesTheFileThatIsMissing) {
  tvd::testing::TempDir dir;
  EXPECT_EQ(StartMasterDaemon({dir.File("none.conf")}).status(),
            IoError("config " + dir.File("none.conf") + " cannot be read"));
  // Every file but the CA certificate: the first one read.
  tvd::testing::MasterConfigFile config =
      tvd::testing::MasterConfigFile::InDir(dir.path(), 0);
  ASSERT_EQ(tvd::testing::WriteMasterConfig(dir.File("m.conf"), config),
            Status::Ok());
  EXPECT_EQ(
      StartMasterDaemon({dir.File("m.conf")}).status(),
      IoError("CA certificate " + dir.File("ca.pem") + " cannot be read"));
  tvd::testing::WriteTestFile(dir.File("ca.pem"), "ca");
  tvd::testing::WriteTestFile(dir.File("master.pem"), "cert");
  EXPECT_EQ(
      StartMasterDaemon({dir.File("m.conf")}).status(),
      IoError("private key " + dir.File("master.key") + " cannot be read"));
}

}  // namespace
}  // namespace tvd::master

#include "tvd/testing/master_config.h"

#include <gtest/gtest.h>

namespace tvd::testing {
namespace {

TEST(MasterConfigFileTest, InDirUsesTheUsualNames) {
  EXPECT_EQ(MasterConfigFile::InDir("/d", 4242).Text(),
            "listen_address = 127.0.0.1\n"
            "listen_port = 4242\n"
            "ca_cert = /d/ca.pem\n"
            "cert = /d/master.pem\n"
            "key = /d/master.key\n"
            "policy_dir = /d/policies\n"
            "state_db = /d/master.db\n"
            "kek_file = /d/master.kek\n"
            "ek_allowlist = /d/eks.txt\n");
}

TEST(MasterConfigFileTest, EmptyListenAddressIsLeftOut) {
  MasterConfigFile c = MasterConfigFile::InDir("/d", 1);
  c.listen_address.clear();
  EXPECT_EQ(c.Text().rfind("listen_port = 1\n", 0), 0u) << c.Text();
}

}  // namespace
}  // namespace tvd::testing

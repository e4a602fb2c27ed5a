#include "tvd/master/config.h"

#include <gtest/gtest.h>

namespace tvd::master {
namespace {

constexpr char kGood[] =
    "# master\n"
    "listen_address = 127.0.0.1\n"
    "listen_port = 7400\n"
    "ca_cert = /etc/tvd/ca.pem\n"
    "cert = /etc/tvd/master.pem\n"
    "key = /etc/tvd/master.key\n"
    "policy_dir = /etc/tvd/policies\n"
    "state_db = /var/lib/tvd/master.db\n"
    "kek_file = /etc/tvd/master.kek\n"
    "ek_allowlist = /etc/tvd/eks.txt\n";

TEST(MasterConfigTest, ParsesEveryKey) {
  auto c = ParseMasterConfig(kGood, "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen_port, 7400);
  EXPECT_EQ(c->kek_file, "/etc/tvd/master.kek");
  EXPECT_EQ(c->ek_allowlist, "/etc/tvd/eks.txt");
  EXPECT_EQ(c->max_connections, 4096u);
  auto more = ParseMasterConfig(
      std::string(kGood) + "max_connections = 12000\n", "m.conf");
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(more->max_connections, 12000u);
}

TEST(MasterConfigTest, ExactErrors) {
  std::string good = kGood;
  EXPECT_EQ(ParseMasterConfig(good + "colour = red\n", "m.conf").status(),
            InvalidArgument("m.conf:11: unknown key 'colour'"));
  EXPECT_EQ(ParseMasterConfig(good + "listen_port = 1\n", "m.conf").status(),
            InvalidArgument("m.conf:11: key 'listen_port' given twice"));
  EXPECT_EQ(ParseMasterConfig("listen_port = 99999\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'listen_port': '99999' is not a "
                            "number in 0..65535"));
  EXPECT_EQ(ParseMasterConfig("listen_port = 1\n", "m.conf").status(),
            InvalidArgument("m.conf: missing key 'ca_cert'"));
  EXPECT_EQ(ParseMasterConfig("state_db = rel/path\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'state_db': 'rel/path' is not an "
                            "absolute path"));
  EXPECT_EQ(
      ParseMasterConfig("listen_address = localhost\n", "m.conf").status(),
      InvalidArgument("m.conf:1: key 'listen_address': 'localhost' is not "
                      "a numeric IP address"));
  EXPECT_EQ(ParseMasterConfig("cert =\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'cert': an empty path"));
  EXPECT_EQ(ParseMasterConfig("max_connections = 8\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'max_connections': '8' is not a "
                            "number in 16..65536"));
  EXPECT_EQ(ParseMasterConfig("just words\n", "m.conf").status(),
            InvalidArgument("m.conf:1: expected 'key = value'"));
}

}  // namespace
}  // namespace tvd::master

#include "tvd/master/config.h"

#include <gtest/gtest.h>

#include "tvd/master/ovsdb_leader_link.h"

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

TEST(MasterConfigTest, LockTakeoverAndEvictionGrace) {
  std::string good = kGood;
  auto c = ParseMasterConfig(good, "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->lock_takeover_ms, 3000);
  EXPECT_EQ(c->eviction_grace_ms, 10000);
  c = ParseMasterConfig(
      good + "lock_takeover_ms = 500\neviction_grace_ms = 3600000\n", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->lock_takeover_ms, 500);
  EXPECT_EQ(c->eviction_grace_ms, 3600000);
  EXPECT_EQ(ParseMasterConfig("lock_takeover_ms = 499\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'lock_takeover_ms': '499' is not "
                            "a number in 500..60000"));
  EXPECT_EQ(
      ParseMasterConfig("lock_takeover_ms = 60001\n", "m.conf").status(),
      InvalidArgument("m.conf:1: key 'lock_takeover_ms': '60001' is not a "
                      "number in 500..60000"));
  EXPECT_EQ(ParseMasterConfig("eviction_grace_ms = 999\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'eviction_grace_ms': '999' is not "
                            "a number in 1000..3600000"));
}

TEST(MasterConfigTest, StoreFailover) {
  std::string good = kGood;
  auto c = ParseMasterConfig(good, "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store_failover_ms, 4000);
  c = ParseMasterConfig(good + "store_failover_ms = 1000\n", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store_failover_ms, 1000);
  EXPECT_EQ(ParseMasterConfig("store_failover_ms = 999\n", "m.conf").status(),
            InvalidArgument("m.conf:1: key 'store_failover_ms': '999' is not "
                            "a number in 1000..15000"));
  EXPECT_EQ(
      ParseMasterConfig("store_failover_ms = 15001\n", "m.conf").status(),
      InvalidArgument("m.conf:1: key 'store_failover_ms': '15001' is not a "
                      "number in 1000..15000"));
}

TEST(MasterConfigTest, StoreOnOvsdbReplacesStateDb) {
  std::string base = kGood;
  std::string no_db = base.substr(0, base.find("state_db")) +
                      base.substr(base.find("kek_file"));
  auto c = ParseMasterConfig(
      no_db +
          "store = ovsdb:unix:/run/tvd/s1.sock,tcp:198.18.0.2:6641,"
          "tcp:[fd00::3]:6641\n",
      "m.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ovsdb_remotes, (std::vector<std::string>{"unix:/run/tvd/s1.sock",
                                                        "tcp:198.18.0.2:6641",
                                                        "tcp:[fd00::3]:6641"}));
  EXPECT_EQ(c->state_db, "");
  auto sqlite = ParseMasterConfig(base + "store = sqlite\n", "m.conf");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  EXPECT_TRUE(sqlite->ovsdb_remotes.empty());
  EXPECT_TRUE(ParseMasterConfig(base, "m.conf")->ovsdb_remotes.empty());

  EXPECT_EQ(ParseMasterConfig(no_db, "m.conf").status(),
            InvalidArgument("m.conf: missing key 'state_db'"));
  EXPECT_EQ(ParseMasterConfig(base + "store = ovsdb:unix:/s.sock\n", "m.conf")
                .status(),
            InvalidArgument("m.conf: key 'state_db' is for the SQLite store; "
                            "this config keeps the state on OVSDB (store = "
                            "ovsdb:...)"));
  EXPECT_EQ(ParseMasterConfig(no_db + "store = etcd:x\n", "m.conf").status(),
            InvalidArgument("m.conf:10: key 'store': 'etcd:x' is not sqlite "
                            "or ovsdb:REMOTE[,REMOTE...]"));
  EXPECT_EQ(ParseMasterConfig(no_db + "store = ovsdb:\n", "m.conf").status(),
            InvalidArgument("m.conf:10: key 'store': no OVSDB remote given"));
  EXPECT_EQ(
      ParseMasterConfig(no_db + "store = ovsdb:unix:rel.sock\n", "m.conf")
          .status(),
      InvalidArgument("m.conf:10: key 'store': OVSDB remote 'unix:rel.sock' "
                      "is not unix:/ABSOLUTE/PATH or tcp:IP:PORT"));
  for (const char* bad :
       {"tcp:host.example:6641", "tcp:1.2.3.4", "ssl:1.2.3.4:1",
        "tcp:1.2.3.4:0", "tcp:1.2.3.4:70000", "tcp:[::1:1"}) {
    EXPECT_EQ(ParseOvsdbRemotes(bad).status(),
              InvalidArgument("OVSDB remote '" + std::string(bad) +
                              "' is not unix:/ABSOLUTE/PATH or tcp:IP:PORT"))
        << bad;
  }
}

}  // namespace
}  // namespace tvd::master

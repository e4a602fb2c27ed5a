// `tvdctl tvd`: argument parsing, connection defaults (flags, environment,
// config file) and the table rendering of the master's replies.
#include "tvd/tvdctl/tvd_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {
namespace {

using nlohmann::json;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("tvdctl-tvd-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::trunc) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

TEST(TvdArgsTest, ParsesEveryVerbAndOption) {
  auto inv = ParseTvdArgs({"show", "blue", "--json", "--master",
                           "127.0.0.1:7400", "--ca=ca.pem", "--cert", "a.pem",
                           "--key", "a.key", "--master-name", "m1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->verb, TvdVerb::kShow);
  EXPECT_EQ(inv->operand, "blue");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->connection.master, "127.0.0.1:7400");
  EXPECT_EQ(inv->connection.ca, "ca.pem");
  EXPECT_EQ(inv->connection.cert, "a.pem");
  EXPECT_EQ(inv->connection.key, "a.key");
  EXPECT_EQ(inv->connection.master_name, "m1");

  EXPECT_EQ(ParseTvdArgs({"list"})->verb, TvdVerb::kList);
  EXPECT_EQ(ParseTvdArgs({"add", "p.xml"})->operand, "p.xml");
  EXPECT_EQ(ParseTvdArgs({"update", "p.xml"})->verb, TvdVerb::kUpdate);
  EXPECT_EQ(ParseTvdArgs({"remove", "green"})->verb, TvdVerb::kRemove);
  EXPECT_TRUE(ParseTvdArgs({"--help"})->help);
}

TEST(TvdArgsTest, UsageErrorsSayWhatIsWrong) {
  EXPECT_EQ(
      ParseTvdArgs({}).status(),
      InvalidArgument("missing COMMAND (list, show, add, update, remove)"));
  EXPECT_EQ(ParseTvdArgs({"frob"}).status(),
            InvalidArgument("unknown command 'frob' (list, show, add, update, "
                            "remove)"));
  EXPECT_EQ(ParseTvdArgs({"show"}).status(), InvalidArgument("show needs TVD"));
  EXPECT_EQ(ParseTvdArgs({"add"}).status(), InvalidArgument("add needs FILE"));
  EXPECT_EQ(ParseTvdArgs({"list", "extra"}).status(),
            InvalidArgument("unexpected argument 'extra'"));
  EXPECT_EQ(ParseTvdArgs({"list", "--frob"}).status(),
            InvalidArgument("unknown option '--frob'"));
  EXPECT_EQ(ParseTvdArgs({"list", "--master"}).status(),
            InvalidArgument("--master needs a value"));
  EXPECT_EQ(ParseTvdArgs({"list", "--ca="}).status(),
            InvalidArgument("--ca needs a value"));
  EXPECT_EQ(ParseTvdArgs({"remove", "../x"}).status(),
            InvalidArgument("'../x' is not a valid TVD name (1-64 of A-Z a-z "
                            "0-9 _ . -, not starting with . or -)"));
}

TEST(TvdArgsTest, SplitsHostAndPort) {
  EXPECT_EQ(*SplitHostPort("127.0.0.1:7400"),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{7400}));
  EXPECT_EQ(*SplitHostPort("[::1]:9"),
            std::make_pair(std::string("::1"), std::uint16_t{9}));
  EXPECT_EQ(SplitHostPort("::1:9").status(),
            InvalidArgument("'::1:9' is not ADDRESS:PORT (IPv6 as "
                            "[ADDRESS]:PORT)"));
  for (const char* bad :
       {"host", "host:", "host:0", "host:65536", ":80", "host:8x"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

TEST(TvdConnectionTest, FlagsBeatEnvironmentBeatsConfigFile) {
  TempDir dir;
  std::string conf = dir.Write("admin.conf",
                               "# defaults\n"
                               "master = 10.0.0.1:1\n"
                               "ca = /conf/ca.pem\n"
                               "cert = /conf/cert.pem\n"
                               "key = /conf/key.pem\n"
                               "master_name = conf-master\n");
  auto inv = ParseTvdArgs({"list", "--config", conf, "--cert", "/flag.pem"});
  ASSERT_TRUE(inv.ok());
  ASSERT_TRUE(ResolveConnection(*inv, Env({{"TVD_ADMIN_CA", "/env/ca.pem"},
                                           {"TVD_ADMIN_CERT", "/env/c.pem"}}))
                  .ok());
  EXPECT_EQ(inv->connection.cert, "/flag.pem");
  EXPECT_EQ(inv->connection.ca, "/env/ca.pem");
  EXPECT_EQ(inv->connection.key, "/conf/key.pem");
  EXPECT_EQ(inv->connection.master, "10.0.0.1:1");
  EXPECT_EQ(inv->connection.master_name, "conf-master");

  // $TVDCTL_ADMIN_CONFIG names the file when --config is absent.
  auto by_env = ParseTvdArgs({"list"});
  ASSERT_TRUE(
      ResolveConnection(*by_env, Env({{"TVDCTL_ADMIN_CONFIG", conf}})).ok());
  EXPECT_EQ(by_env->connection.ca, "/conf/ca.pem");
}

TEST(TvdConnectionTest, MissingAndBrokenSettingsAreNamed) {
  TempDir dir;
  auto inv = ParseTvdArgs({"list", "--config", dir.Write("e.conf", "")});
  EXPECT_EQ(ResolveConnection(*inv, Env({})),
            InvalidArgument("no master address: pass --master ADDRESS:PORT, "
                            "set TVD_MASTER, or write 'master = ADDRESS:PORT' "
                            "in the config file"));
  inv = ParseTvdArgs({"list", "--config", dir.Write("e.conf", "")});
  EXPECT_EQ(ResolveConnection(*inv, Env({{"TVD_MASTER", "127.0.0.1:7"},
                                         {"TVD_ADMIN_CA", "ca"},
                                         {"TVD_ADMIN_CERT", "c"}})),
            InvalidArgument("no admin certificate: pass --key (TVD_ADMIN_KEY, "
                            "config 'key')"));
  std::string bad = dir.Write("bad.conf", "master = 1.2.3.4:5\ncolour = red\n");
  inv = ParseTvdArgs({"list", "--config", bad});
  EXPECT_EQ(ResolveConnection(*inv, Env({})),
            InvalidArgument(bad + ":2: unknown key 'colour' (known: master, "
                                  "master_name, ca, cert, key)"));
  MasterConnection c;
  EXPECT_EQ(ApplyAdminConfig("# x\n\nmaster 1.2.3.4:5\n", "A", c),
            InvalidArgument("A:3: expected 'key = value'"));
  EXPECT_EQ(ApplyAdminConfig("ca =\n", "A", c),
            InvalidArgument("A:1: key 'ca' has no value"));
  EXPECT_TRUE(c.master.empty() && c.ca.empty());
  std::string twice = dir.Write("twice.conf", "ca = a\nca = b\n");
  inv = ParseTvdArgs({"list", "--config", twice});
  EXPECT_EQ(ResolveConnection(*inv, Env({})),
            InvalidArgument(twice + ":2: key 'ca' repeated"));
  inv = ParseTvdArgs({"list", "--config", dir.Write("x", "") + ".absent"});
  EXPECT_EQ(ResolveConnection(*inv, Env({})).code(), ErrorCode::kIo);
}

const json kTvd = json::parse(R"({
  "name": "blue", "id": 1, "digest": "ab12", "epoch": 3, "source": "admin",
  "members": [
    {"host": "node1", "underlay": "198.18.0.1", "attested": true,
     "attestation_reason": "", "attested_at": 0, "connected": true},
    {"host": "node2", "underlay": "198.18.0.2", "attested": false,
     "attestation_reason": "PCR 16 mismatch", "attested_at": 1700000000,
     "connected": false}],
  "networks": [{"name": "blue-data", "kind": "data", "vni": 1001,
                "subnet": null}],
  "vms": [{"vm": "web2", "host": "node1", "uuid": "u2"},
          {"vm": "web1", "host": "node1", "uuid": "u1"}]
})");

TEST(TvdRenderTest, ListShowsHostsWithAttestationAndVmCounts) {
  std::ostringstream out;
  RenderTvdList(json{{"tvds", json::array({kTvd})}}, out);
  EXPECT_EQ(out.str(),
            "TVD   ID  EPOCH  VMS  SOURCE  HOSTS(ATTESTATION)\n"
            "blue  1   3      2    admin   node1(ok) node2(FAILED)\n");
  std::ostringstream empty;
  RenderTvdList(json{{"tvds", json::array()}}, empty);
  EXPECT_EQ(empty.str(),
            "the master has no TVDs (add one with 'tvdctl tvd add FILE')\n");
}

TEST(TvdRenderTest, ShowListsHostsNetworksAndVmsPerHost) {
  std::ostringstream out;
  RenderTvdShow(kTvd, out);
  EXPECT_EQ(out.str(),
            "TVD blue (id 1)  key epoch 3  source admin\n"
            "policy digest ab12\n"
            "\n"
            "HOST   UNDERLAY    ATTESTATION              LAST ATTESTED         "
            "CONNECTED  VMS\n"
            "node1  198.18.0.1  ok                       never                 "
            "yes        2\n"
            "node2  198.18.0.2  FAILED: PCR 16 mismatch  2023-11-14 22:13:20Z  "
            "no         0\n"
            "\n"
            "NETWORK    KIND  VNI   SUBNET\n"
            "blue-data  data  1001  -\n"
            "\n"
            "VM    HOST   UUID\n"
            "web1  node1  u1\n"
            "web2  node1  u2\n");
}

TEST(TvdRenderTest, OddJsonPrintsDashesInsteadOfThrowing) {
  std::ostringstream out;
  RenderTvdShow(json::parse(R"({"name": 5, "members": [7, {"host": []}],
                                "networks": "x", "vms": [null]})"),
                out);
  EXPECT_NE(out.str().find("TVD 5 (id -)"), std::string::npos) << out.str();
  std::ostringstream list;
  RenderTvdList(json::array({1, 2}), list);
  EXPECT_EQ(list.str(),
            "the master has no TVDs (add one with 'tvdctl tvd add FILE')\n");
}

TEST(TvdCommandTest, HelpAndUsageExitCodes) {
  std::ostringstream out, err;
  EXPECT_EQ(RunTvdctl({"tvd", "--help"}, out, err), kExitOk);
  for (const char* verb :
       {"list", "show TVD", "add FILE", "update FILE", "remove TVD"}) {
    EXPECT_NE(out.str().find(verb), std::string::npos) << verb;
  }
  std::ostringstream top;
  EXPECT_EQ(RunTvdctl({"--help"}, top, err), kExitOk);
  EXPECT_NE(top.str().find("  tvd "), std::string::npos) << top.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTvdctl({"tvd", "show"}, out2, err2), kExitUsage);
  EXPECT_EQ(err2.str(),
            "tvdctl tvd: show needs TVD (see 'tvdctl tvd --help')\n");
}

TEST(TvdCommandTest, BrokenPolicyIsRefusedLocallyWithItsLine) {
  TempDir dir;
  std::string file = dir.Write("p.xml",
                               "<tvd-policy xmlns=\"urn:tvd:policy:1\" "
                               "name=\"g\" id=\"1\">\n<bogus/>\n");
  std::ostringstream out, err;
  // No master listens on port 1: the local check fails before any connect.
  EXPECT_EQ(RunTvdctl({"tvd", "add", file, "--master", "127.0.0.1:1", "--ca",
                       "x", "--cert", "x", "--key", "x", "--config",
                       dir.Write("e.conf", "")},
                      out, err),
            kExitFailure);
  EXPECT_EQ(err.str().rfind("tvdctl tvd: " + file + ":", 0), 0u) << err.str();
  EXPECT_NE(err.str().find("nothing was sent"), std::string::npos);
}

}  // namespace
}  // namespace tvd::tvdctl

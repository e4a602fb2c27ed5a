// `tvdctl tvd` (the real binary) against a real tvd-master process: add,
// update, list, show, remove; a broken policy refused before it is sent; a
// host certificate refused; a master that does not listen is exit 3; the
// connection settings from a config file named by $TVDCTL_ADMIN_CONFIG; a
// list of masters moves past the ones that refuse or cut the connection,
// never past an answer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tvd/pki/certificate_authority.h"
#include "tvd/process.h"
#include "tvd/testing/files.h"
#include "tvd/testing/free_port.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/test_pki.h"
#include "tvd/testing/test_policy.h"

namespace tvd::master {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class TvdctlTvdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/tvdctl-tvd-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/policies");
    auto pki = testing::TestPki::Create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    ASSERT_TRUE(pki->Issue(pki::Role::kHost, "tvd-master", "tvd-master").ok());
    ASSERT_TRUE(pki->Issue(pki::Role::kAdmin, "alice", "alice").ok());
    ASSERT_TRUE(pki->Issue(pki::Role::kHost, "node1", "node1").ok());
    Write("master.kek", std::string(32, 'k'), 0600);
    Write("eks.txt", "# none\n", 0644);
    Write("policies/blue.xml",
          Policy("blue", 1, {"node1"}, {Sha256Digest{}}, 60), 0644);
    // Port 0: the daemon reports the port it bound in its --port-file.
    testing::MasterConfigFile config =
        testing::MasterConfigFile::InDir(dir_, 0);
    config.listen_address.clear();  // the daemon's default
    config.cert = dir_ + "/tvd-master.pem";
    config.key = dir_ + "/tvd-master.key";
    Write("master.conf", config.Text(), 0644);
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvd-master/tvd-master",
              "--config", dir_ + "/master.conf", "--port-file",
              dir_ + "/master.port"};
    o.stderr_path = dir_ + "/master.log";
    auto child = ChildProcess::Start(o);
    ASSERT_TRUE(child.ok()) << child.status();
    master_ = new ChildProcess(std::move(*child));
    StatusOr<std::uint16_t> port = testing::WaitForPortFile(
        dir_ + "/master.port", milliseconds(10000), master_->pid());
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    Write("admin.conf",
          "master = 127.0.0.1:" + std::to_string(port_) + "\nca = " + dir_ +
              "/ca.pem\ncert = " + dir_ + "/alice.pem\nkey = " + dir_ +
              "/alice.key\n",
          0644);
    // Ready when a list answers.
    for (int i = 0; i < 200; ++i) {
      if (Run({"list"}).exit_status == 0) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    FAIL() << "tvd-master did not answer";
  }

  static void TearDownTestSuite() {
    if (master_ != nullptr) {
      auto code = master_->Stop();
      EXPECT_TRUE(code.ok() && *code == 0) << "tvd-master did not exit 0";
      delete master_;
      master_ = nullptr;
    }
    std::filesystem::remove_all(dir_);
  }

  static void Write(const std::string& name, const std::string& text,
                    mode_t mode) {
    testing::WriteTestFile(dir_ + "/" + name, text, mode);
  }

  // Runs the tvdctl binary with the admin connection from the config file
  // named by $TVDCTL_ADMIN_CONFIG, plus `extra_env`.
  static CommandResult Run(std::vector<std::string> args,
                           std::vector<std::string> extra_env = {}) {
    ProcessOptions o;
    o.argv = {std::string(TVD_BINARY_DIR) + "/tvdctl/tvdctl", "tvd"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    // getenv finds the first entry: `extra_env` overrides the default.
    o.env = extra_env;
    o.env.push_back("TVDCTL_ADMIN_CONFIG=" + dir_ + "/admin.conf");
    auto r = RunCommand(o, milliseconds(20000));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{-1, "", ""};
  }

  static json RunJson(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult r = Run(args);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  static inline std::string dir_;
  static inline std::uint16_t port_ = 0;
  static inline ChildProcess* master_ = nullptr;
};

TEST_F(TvdctlTvdTest, AddUpdateListShowRemove) {
  Write("green.xml", Policy("green", 7, {"node1"}, {Sha256Digest{}}, 60), 0644);
  CommandResult added = Run({"add", dir_ + "/green.xml"});
  ASSERT_EQ(added.exit_status, 0) << added.err;
  EXPECT_EQ(added.out.rfind("added TVD 'green' (policy digest ", 0), 0u)
      << added.out;

  CommandResult again = Run({"add", dir_ + "/green.xml"});
  EXPECT_EQ(again.exit_status, 1);
  EXPECT_NE(again.err.find("already-exists: peer: TVD green already exists"),
            std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("tvdctl tvd update FILE"), std::string::npos);

  CommandResult list = Run({"list"});
  ASSERT_EQ(list.exit_status, 0) << list.err;
  EXPECT_NE(list.out.find("TVD    ID  EPOCH  VMS  SOURCE"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("\nblue   1   "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\ngreen  7   1      0    admin   -"),
            std::string::npos)
      << list.out;

  json shown = RunJson({"show", "green"});
  EXPECT_EQ(shown["name"], "green");
  EXPECT_EQ(shown["source"], "admin");
  ASSERT_EQ(shown["networks"].size(), 1u);
  EXPECT_EQ(shown["networks"][0]["name"], "green-data");
  EXPECT_EQ(shown["networks"][0]["vni"], 1007);
  std::string digest = shown["digest"];

  CommandResult text = Run({"show", "green"});
  ASSERT_EQ(text.exit_status, 0);
  EXPECT_NE(text.out.find("TVD green (id 7)  key epoch 1  source admin"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("green-data  data  1007"), std::string::npos);

  // A changed policy (another re-attestation interval) under the same name.
  Write("green.xml", Policy("green", 7, {"node1"}, {Sha256Digest{}}, 30), 0644);
  CommandResult updated = Run({"update", dir_ + "/green.xml"});
  ASSERT_EQ(updated.exit_status, 0) << updated.err;
  json after = RunJson({"show", "green"});
  EXPECT_NE(after["digest"], digest);

  // The policy-directory TVD is changed through its file only.
  Write("blue.xml", Policy("blue", 1, {"node1"}, {Sha256Digest{}}, 30), 0644);
  CommandResult file_tvd = Run({"update", dir_ + "/blue.xml"});
  EXPECT_EQ(file_tvd.exit_status, 1);
  EXPECT_NE(file_tvd.err.find("comes from the policy directory"),
            std::string::npos)
      << file_tvd.err;

  CommandResult removed = Run({"remove", "green"});
  ASSERT_EQ(removed.exit_status, 0) << removed.err;
  EXPECT_EQ(removed.out,
            "removed TVD 'green'; its members were told to leave\n");
  json tvds = RunJson({"list"});
  ASSERT_EQ(tvds["tvds"].size(), 1u);
  EXPECT_EQ(tvds["tvds"][0]["name"], "blue");

  CommandResult gone = Run({"show", "green"});
  EXPECT_EQ(gone.exit_status, 1);
  EXPECT_NE(gone.err.find("not-found: peer: no TVD named green"),
            std::string::npos)
      << gone.err;
  EXPECT_NE(gone.err.find("tvdctl tvd list"), std::string::npos);
}

TEST_F(TvdctlTvdTest, BrokenPolicyIsRefusedBeforeSendingAndChangesNothing) {
  Write("broken.xml",
        "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"brown\" id=\"9\">\n"
        "  <networks><network name=\"n\" kind=\"data\" vni=\"0\"/></networks>\n"
        "</tvd-policy>\n",
        0644);
  CommandResult r = Run({"add", dir_ + "/broken.xml"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err.rfind("tvdctl tvd: " + dir_ + "/broken.xml:2: ", 0), 0u)
      << r.err;
  EXPECT_EQ(RunJson({"list"})["tvds"].size(), 1u);
}

TEST_F(TvdctlTvdTest, HostCertificateIsRefused) {
  CommandResult r = Run(
      {"list", "--cert", dir_ + "/node1.pem", "--key", dir_ + "/node1.key"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("permission-denied: peer: admin requests need an admin "
                       "certificate; peer is host:node1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the master wants an admin certificate"),
            std::string::npos);
  Write("grey.xml", Policy("grey", 8, {"node1"}, {Sha256Digest{}}, 60), 0644);
  CommandResult add = Run({"add", dir_ + "/grey.xml"},
                          {"TVD_ADMIN_CERT=" + dir_ + "/node1.pem",
                           "TVD_ADMIN_KEY=" + dir_ + "/node1.key"});
  EXPECT_EQ(add.exit_status, 1);
  EXPECT_EQ(RunJson({"list"})["tvds"].size(), 1u);
}

// A "master" on 127.0.0.1 that accepts TCP connections and closes each at
// once: the TLS handshake is cut. Counts the connections.
class CuttingListener {
 public:
  CuttingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        ++accepted_;
        ::close(c);
      }
    });
  }
  ~CuttingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(TvdctlTvdTest, AMasterListMovesOnlyPastConnectionFailures) {
  StatusOr<std::uint16_t> closed = testing::FreeLoopbackPort();
  ASSERT_TRUE(closed.ok()) << closed.status();
  const std::string refused = "127.0.0.1:" + std::to_string(*closed);
  const std::string live = "127.0.0.1:" + std::to_string(port_);
  CuttingListener cut;
  // Refused, then cut during the handshake, then the real master answers.
  CommandResult r =
      Run({"list", "--master", refused + "," + cut.Endpoint() + "," + live});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("TVD ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nblue "), std::string::npos) << r.out;
  EXPECT_EQ(cut.accepted(), 1);
  // An error answer is final: the next master is never asked.
  CommandResult missing =
      Run({"show", "nosuch", "--master", live + "," + cut.Endpoint()});
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_NE(missing.err.find("not-found: peer: no TVD named nosuch"),
            std::string::npos)
      << missing.err;
  EXPECT_EQ(cut.accepted(), 1);
  // No master accepts: each is named, and it is "unreachable" (exit 3).
  CommandResult none =
      Run({"list", "--master", refused + "," + cut.Endpoint()});
  EXPECT_EQ(none.exit_status, 3);
  EXPECT_NE(none.err.find("unavailable: no master accepted the connection: " +
                          refused + ": cannot connect to " + refused + ": "),
            std::string::npos)
      << none.err;
  EXPECT_NE(none.err.find("; " + cut.Endpoint() + ": TLS handshake failed"),
            std::string::npos)
      << none.err;
  EXPECT_EQ(cut.accepted(), 2);
  // A repeated master is a usage error before anything is sent.
  CommandResult twice = Run({"list", "--master", live + "," + live});
  EXPECT_EQ(twice.exit_status, 2);
  EXPECT_NE(twice.err.find("entry 2 (" + live + ") repeats entry 1"),
            std::string::npos)
      << twice.err;
}

TEST_F(TvdctlTvdTest, UnreachableMasterIsExitThree) {
  StatusOr<std::uint16_t> closed = testing::FreeLoopbackPort();
  ASSERT_TRUE(closed.ok()) << closed.status();
  CommandResult r =
      Run({"list", "--master", "127.0.0.1:" + std::to_string(*closed)});
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_NE(r.err.find("is tvd-master running at 127.0.0.1:"),
            std::string::npos)
      << r.err;
  CommandResult usage = Run({"list"}, {"TVDCTL_ADMIN_CONFIG=" + dir_ + "/no"});
  EXPECT_EQ(usage.exit_status, 1);
  EXPECT_NE(usage.err.find("cannot open " + dir_ + "/no"), std::string::npos)
      << usage.err;
}

}  // namespace
}  // namespace tvd::master

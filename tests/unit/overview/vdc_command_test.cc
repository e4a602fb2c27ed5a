// `tvdctl vdc overview`: usage errors, exit codes by source state, and the
// whole command against daemons that are not there (exit 3, both errors).
#include "tvd/tvdctl/vdc_command.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tvd/pki/certificate_authority.h"
#include "tvd/rm/curve_keys.h"
#include "tvd/tvdctl/dispatcher.h"
#include "tvd/tvdctl/host_command.h"

namespace tvd::tvdctl {
namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunVdc(std::vector<std::string> args) {
  std::ostringstream out, err;
  args.insert(args.begin(), "vdc");
  int code = RunTvdctl(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(VdcCommand, HelpAndUsageErrors) {
  Result r = RunVdc({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("usage: tvdctl vdc overview [--json] [OPTIONS]"),
            std::string::npos);
  r = RunVdc({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err,
            "tvdctl vdc: missing COMMAND (overview) (see 'tvdctl vdc "
            "--help')\n");
  r = RunVdc({"overview", "--bogus"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err,
            "tvdctl vdc: unknown option '--bogus' (see 'tvdctl vdc --help')\n");
  r = RunVdc({"overview", "--timeout-ms", "0"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err, "tvdctl vdc: --timeout-ms: expected a positive integer\n");
  r = RunVdc({"overview", "--master", "127.0.0.1:7400", "--ca", "a", "--cert",
              "b", "--key", "c", "--config", "/nonexistent/tvdctl.conf"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_NE(r.err.find("cannot open /nonexistent/tvdctl.conf"),
            std::string::npos)
      << r.err;
}

TEST(VdcCommand, ExitCodeFollowsTheSources) {
  overview::Overview o;
  o.master = {true, ErrorCode::kOk, ""};
  o.rm = {true, ErrorCode::kOk, ""};
  EXPECT_EQ(OverviewExitCode(o), kExitOk);
  o.rm = {false, ErrorCode::kPermissionDenied, "x"};
  EXPECT_EQ(OverviewExitCode(o), kExitFailure);
  o.master = {false, ErrorCode::kUnavailable, "y"};
  EXPECT_EQ(OverviewExitCode(o), kExitUnreachable);
  o.master = {true, ErrorCode::kOk, ""};
  o.rm = {false, ErrorCode::kTimeout, "z"};
  EXPECT_EQ(OverviewExitCode(o), kExitUnreachable);
}

std::uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);  // nothing listens there now
  return ntohs(a.sin_port);
}

TEST(VdcCommand, UnreachableSourcesExit3WithBothErrors) {
  std::string dir = "/tmp/tvd-vdc-unit-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto day = pki::Validity::ForDays(1);
  auto ca = pki::CreateCa("vdc-test", day);
  ASSERT_TRUE(ca.ok());
  auto admin = pki::IssueCertificate(*ca, pki::Role::kAdmin, "alice", day);
  ASSERT_TRUE(admin.ok());
  std::ofstream(dir + "/ca.pem") << ca->cert_pem;
  std::ofstream(dir + "/admin.pem") << admin->cert_pem;
  std::ofstream(dir + "/admin.key") << std::string(
      admin->key_pem.view().begin(), admin->key_pem.view().end());
  auto server = rm::GenerateCurveKeyPair();
  auto rm_admin = rm::GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && rm_admin.ok());
  ASSERT_TRUE(rm::WriteKeyPairFiles(dir + "/server", *server).ok());
  ASSERT_TRUE(rm::WriteKeyPairFiles(dir + "/rmadmin", *rm_admin).ok());

  const std::string master = "127.0.0.1:" + std::to_string(ClosedPort());
  const std::string rm_endpoint =
      "tcp://127.0.0.1:" + std::to_string(ClosedPort());
  Result r = RunVdc({"overview", "--json", "--master", master, "--ca",
                     dir + "/ca.pem", "--cert", dir + "/admin.pem", "--key",
                     dir + "/admin.key", "--rm-server", rm_endpoint,
                     "--rm-server-key", dir + "/server.pub", "--rm-key",
                     dir + "/rmadmin", "--timeout-ms", "300"});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.code, kExitUnreachable) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["sources"]["master"]["ok"], false);
  EXPECT_EQ(doc["sources"]["master"]["code"], "unavailable");
  EXPECT_EQ(doc["sources"]["rm"]["code"], "timeout");
  EXPECT_EQ(doc["tvds"], nlohmann::json::array());
  EXPECT_NE(r.err.find("tvdctl vdc: tvd-master " + master + ": unavailable: "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("tvdctl vdc: rm-server " + rm_endpoint + ": timeout"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace tvd::tvdctl

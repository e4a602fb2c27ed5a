// tvdctl's dispatcher and `policy` commands, driven through the library with
// string streams; one smoke test runs the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tvd/attest/event_log_builder.h"
#include "tvd/attest/measured_boot.h"
#include "tvd/policy/host_requirements_parser.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/sha256.h"
#include "tvd/tvdctl/dispatcher.h"

namespace tvd::tvdctl {
namespace {

namespace fs = std::filesystem;

const std::string kTemplates =
    std::string(TVD_SOURCE_DIR) + "/policy-templates";

struct Result {
  int rc;
  std::string out;
  std::string err;
};

Result Tvdctl(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = RunTvdctl(args, out, err);
  return {rc, out.str(), err.str()};
}

std::vector<std::string> TemplateFiles() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kTemplates)) {
    if (e.path().extension() == ".xml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class TvdctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tvdctl-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& data) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }

  fs::path dir_;
};

TEST_F(TvdctlTest, Help) {
  Result r = Tvdctl({"--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("usage: tvdctl GROUP COMMAND"), std::string::npos);
  EXPECT_NE(r.out.find("  policy    validate, show"), std::string::npos);
  r = Tvdctl({"policy", "--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("  validate [--final] FILE..."), std::string::npos);
  for (const char* cmd :
       {"validate", "show", "derive", "import-fig15", "check-vm", "digest"}) {
    r = Tvdctl({"policy", cmd, "--help"});
    EXPECT_EQ(r.rc, 0) << cmd;
    EXPECT_EQ(r.out.rfind(std::string("usage: tvdctl policy ") + cmd, 0), 0u)
        << r.out;
    EXPECT_TRUE(r.err.empty());
  }
}

TEST_F(TvdctlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Tvdctl({}).rc, 2);
  Result r = Tvdctl({"frobnicate"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err,
            "tvdctl: unknown command group 'frobnicate' (see 'tvdctl "
            "--help')\n");
  EXPECT_EQ(Tvdctl({"policy"}).rc, 2);
  r = Tvdctl({"policy", "explode"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err,
            "tvdctl policy: unknown command 'explode' (see 'tvdctl policy "
            "--help')\n");
  r = Tvdctl({"policy", "validate"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err,
            "tvdctl policy: no FILE given\nusage: tvdctl policy validate "
            "[--final] FILE...\n");
  EXPECT_EQ(Tvdctl({"policy", "validate", "--strict", "x.xml"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "show"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "show", "a", "b"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "digest"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "import-fig15", "a", "--out"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "derive", "--name", "x"}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "derive", "--template", "t"}).rc, 2);
  r = Tvdctl(
      {"policy", "derive", "--template", "t", "--name", "x", "--disk", "vda"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err.rfind("tvdctl policy: --disk expects TARGET=PATH, got "
                        "'vda'\n",
                        0),
            0u);
}

TEST_F(TvdctlTest, EveryTemplateValidates) {
  std::vector<std::string> args = {"policy", "validate"};
  for (const std::string& f : TemplateFiles()) args.push_back(f);
  ASSERT_EQ(args.size(), 9u);
  Result r = Tvdctl(args);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  EXPECT_NE(r.out.find(kTemplates + "/blue.xml: valid TVD policy\n"),
            std::string::npos);
  EXPECT_NE(r.out.find(kTemplates + "/host-tcb.xml: valid host requirements\n"),
            std::string::npos);
  EXPECT_NE(r.out.find(kTemplates + "/vm-client.xml: valid VM template\n"),
            std::string::npos);
  // Templates are refused where a final VM configuration is required.
  r = Tvdctl({"policy", "validate", "--final", kTemplates + "/vm-client.xml"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err.rfind(kTemplates + "/vm-client.xml:", 0), 0u);
  EXPECT_NE(r.err.find("missing sha256 for type 'config'"), std::string::npos);
}

std::string Nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "<a>\n";
  for (int i = 0; i < depth; ++i) s += "</a>";
  return s;
}

TEST_F(TvdctlTest, EveryMalformedInputExitsOneWithALocatedError) {
  std::string blue;
  {
    std::ifstream in(kTemplates + "/blue.xml");
    blue.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto Edit = [&](std::string_view from, std::string_view to) {
    std::string t = blue;
    const std::size_t pos = t.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) t.replace(pos, from.size(), to);
    return t;
  };
  const std::map<std::string, std::string> corpus = {
      {"not-well-formed.xml", "<tvd-policy>\n<owner>\n</tvd-policy>"},
      {"empty.xml", ""},
      {"garbage.xml", std::string("\x7f\x45\x4c\x46\x02\x01\x01\x00\xff", 9)},
      {"wrong-root.xml", "<policy xmlns='urn:tvd:policy:1'/>"},
      {"deep.xml", Nested(100000)},
      {"big-attribute.xml",
       "<tvd-policy name='" + std::string(50 * 1024 * 1024, 'x') + "'/>"},
      {"billion-laughs.xml",
       "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\n"
       "<tvd-policy>&b;</tvd-policy>"},
      {"external-entity.xml",
       "<!DOCTYPE l [<!ENTITY x SYSTEM \"file:///etc/shadow\">]>\n"
       "<tvd-policy>&x;</tvd-policy>"},
      {"latin1.xml", "<tvd-policy name='caf\xe9'/>"},
      {"bad-id.xml", Edit("id=\"1\"", "id=\"16384\"")},
      {"bad-vni.xml", Edit("vni=\"1001\"", "vni=\"0\"")},
      {"dup-network.xml", Edit("name=\"blue-mgmt\"", "name=\"blue-data\"")},
      {"bad-digest.xml", Edit("value=\"0000", "value=\"zz00")},
      {"unknown-element.xml", Edit("<networks>", "<networks><vlan/>")},
      {"unknown-attribute.xml", Edit("<networks>", "<networks mtu='9000'>")},
      {"missing-owner.xml", Edit("<owner", "<!-- owner")},
      {"weak-ipsec.xml", Edit("aes256gcm16-ecp256\"", "aes128-sha1\"")},
      {"no-tpm-unstated.xml", Edit("allow-no-tpm=\"false\" ", "")},
      {"self-gateway.xml", Edit("peer=\"red\"", "peer=\"blue\"")},
      {"key-unknown-vm.xml",
       Edit("<disk-key vm=\"cms-server\"/>", "<disk-key vm=\"ghost\"/>")},
  };
  std::vector<std::string> args = {"policy", "validate"};
  for (const auto& [name, data] : corpus) {
    const std::string path = Write(name, data);
    Result r = Tvdctl({"policy", "validate", path});
    EXPECT_EQ(r.rc, 1) << name;
    EXPECT_TRUE(r.out.empty()) << name;
    // "PATH:LINE: message\n", exactly one line.
    ASSERT_EQ(r.err.rfind(path + ":", 0), 0u) << name << ": " << r.err;
    const std::string rest = r.err.substr(path.size() + 1);
    const std::size_t colon = rest.find(": ");
    ASSERT_NE(colon, std::string::npos) << r.err;
    EXPECT_GT(std::stoi(rest.substr(0, colon)), 0) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    args.push_back(path);
  }
  // Several files: every error is reported, and one bad file fails the run.
  args.push_back(kTemplates + "/blue.xml");
  Result all = Tvdctl(args);
  EXPECT_EQ(all.rc, 1);
  EXPECT_EQ(std::count(all.err.begin(), all.err.end(), '\n'),
            static_cast<long>(corpus.size()));
  EXPECT_NE(all.out.find("blue.xml: valid TVD policy"), std::string::npos);
  // A few exact messages through the CLI.
  EXPECT_EQ(Tvdctl({"policy", "validate", (dir_ / "deep.xml").string()}).err,
            (dir_ / "deep.xml").string() +
                ":33: elements nested deeper than 32 levels\n");
  EXPECT_EQ(
      Tvdctl({"policy", "validate", (dir_ / "big-attribute.xml").string()}).err,
      (dir_ / "big-attribute.xml").string() +
          ":1: file is 52428821 bytes, over the limit of 4194304 "
          "bytes\n");
  EXPECT_EQ(Tvdctl({"policy", "validate", (dir_ / "bad-vni.xml").string()}).err,
            (dir_ / "bad-vni.xml").string() +
                ":11: <network>: attribute 'vni' must be an integer in "
                "1..16777215, got '0'\n");
}

TEST_F(TvdctlTest, MissingFileExitsOne) {
  Result r = Tvdctl({"policy", "validate", "/nonexistent/p.xml"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "/nonexistent/p.xml: No such file or directory\n");
}

TEST_F(TvdctlTest, ShowAndDigest) {
  Result r = Tvdctl({"policy", "show", kTemplates + "/red.xml"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("TVD policy 'red' (id 2)\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("VM red-gateway may connect to TVD blue"),
            std::string::npos);
  EXPECT_NE(r.out.find("\n  quota per host:  8 domains  16 vCPUs  16384 MiB "
                       "memory  200 GiB disk\n"),
            std::string::npos)
      << r.out;
  Result json = Tvdctl({"policy", "show", kTemplates + "/red.xml", "--json"});
  EXPECT_EQ(json.rc, 0);
  EXPECT_NE(json.out.find("\n  \"format\": \"tvd-policy/1\",\n"),
            std::string::npos)
      << json.out;
  Result d = Tvdctl({"policy", "digest", kTemplates + "/red.xml"});
  EXPECT_EQ(d.rc, 0);
  ASSERT_EQ(d.out.size(), 65u);
  // The digest printed in `show` is the same one.
  EXPECT_NE(r.out.find("digest   " + d.out), std::string::npos);
  // Formatting does not change it; a value does.
  std::ifstream in(kTemplates + "/red.xml");
  std::string text(std::istreambuf_iterator<char>(in), {});
  std::string reformatted;
  for (char c : text) reformatted += c == '\n' ? ' ' : c;
  const std::size_t decl_end = reformatted.find("?>") + 2;
  reformatted = reformatted.substr(0, decl_end) + "\n<!-- x -->" +
                reformatted.substr(decl_end);
  EXPECT_EQ(Tvdctl({"policy", "digest", Write("r1.xml", reformatted)}).out,
            d.out);
  std::string changed = text;
  changed.replace(changed.find("vni=\"2001\""), 10, "vni=\"2003\"");
  EXPECT_NE(Tvdctl({"policy", "digest", Write("r2.xml", changed)}).out, d.out);
  // VM templates show their bindings.
  r = Tvdctl({"policy", "show", kTemplates + "/vm-red-gateway.xml"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("vnet     redgw1 -> blue-data"), std::string::npos)
      << r.out;
}

TEST_F(TvdctlTest, DeriveFromShippedTemplate) {
  const std::string k = Write("vmlinuz", "k"), i = Write("initrd.img", "i"),
                    d = Write("disk.img", "d");
  const std::string out = (dir_ / "cms-1.xml").string();
  Result r = Tvdctl(
      {"policy", "derive", "--template", kTemplates + "/vm-cms-server.xml",
       "--name", "cms-server", "--uuid", "12345678-1234-4234-8234-123456789abc",
       "--kernel", k, "--initrd", i, "--disk", "vda=" + d, "--disk",
       "vdb=" + (dir_ / "data.img").string(), "--out", out});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = Tvdctl({"policy", "validate", "--final", out});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, out + ": valid VM configuration\n");
  r = Tvdctl({"policy", "show", out});
  EXPECT_NE(r.out.find("kernel      " + ToHex(Sha256(std::string_view("k")))),
            std::string::npos)
      << r.out;
  // To stdout without --out.
  r = Tvdctl({"policy", "derive", "--template", kTemplates + "/vm-client.xml",
              "--name", "client", "--kernel", k, "--initrd", i, "--disk",
              "vda=" + d});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("<name>client</name>"), std::string::npos);
  // A missing image fails without writing anything.
  const std::string out2 = (dir_ / "never.xml").string();
  r = Tvdctl({"policy", "derive", "--template", kTemplates + "/vm-client.xml",
              "--name", "client", "--kernel", k, "--initrd", i, "--disk",
              "vda=/nonexistent/disk.img", "--out", out2});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "tvdctl policy derive: measure 'disk' target 'vda': cannot open "
            "/nonexistent/disk.img: No such file or directory\n");
  EXPECT_FALSE(fs::exists(out2));
}

TEST_F(TvdctlTest, CheckVmAgainstTheShippedPolicies) {
  const std::string k = Write("vmlinuz", "k"), i = Write("initrd.img", "i"),
                    d = Write("disk.img", "d");
  const std::string vm = (dir_ / "red-gateway.xml").string();
  ASSERT_EQ(
      Tvdctl({"policy", "derive", "--template",
              kTemplates + "/vm-red-gateway.xml", "--name", "red-gateway",
              "--uuid", "12345678-1234-4234-8234-123456789abc", "--kernel", k,
              "--initrd", i, "--disk", "vda=" + d, "--out", vm})
          .rc,
      0);
  const std::string red = kTemplates + "/red.xml";
  const std::string blue = kTemplates + "/blue.xml";
  // The shipped policy holds placeholders, so the real digests differ.
  Result r =
      Tvdctl({"policy", "check-vm", vm, "--policy", red, "--peer", blue});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, vm + ": refused: VM 'red-gateway': measure 'config' "
                        "differs from TVD 'red''s known-good value\n");

  // A red policy with the derived digests as known-good values.
  auto derived =
      tvd::policy::LoadVmConfigFile(vm, tvd::policy::VmConfigMode::kFinal);
  ASSERT_TRUE(derived.ok()) << derived.status().message();
  std::string text;
  {
    std::ifstream in(red);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::size_t pos = text.find("<vm name=\"red-gateway\">");
  ASSERT_NE(pos, std::string::npos);
  for (const tvd::policy::Measurement& m : derived->tvd.measures) {
    pos = text.find(std::string(64, '0'), pos);
    ASSERT_NE(pos, std::string::npos);
    text.replace(pos, 64, ToHex(*m.sha256));
  }
  const std::string measured_red = Write("red.xml", text);
  r = Tvdctl(
      {"policy", "check-vm", vm, "--policy", measured_red, "--peer", blue});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, vm + ": VM 'red-gateway' is allowed by TVD 'red'\n");
  // Without blue's agreement the NIC on blue-data is refused.
  r = Tvdctl({"policy", "check-vm", vm, "--policy", measured_red});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("vnet 'redgw1' is bound to network 'blue-data'"),
            std::string::npos)
      << r.err;
  // Usage errors.
  EXPECT_EQ(Tvdctl({"policy", "check-vm", vm}).rc, 2);
  EXPECT_EQ(Tvdctl({"policy", "check-vm", "--policy", red}).rc, 2);
}

TEST_F(TvdctlTest, ImportFig15) {
  const std::string out = (dir_ / "fig15-converted.xml").string();
  Result r =
      Tvdctl({"policy", "import-fig15",
              std::string(TVD_SOURCE_DIR) + "/tests/unit/policy/data/fig15.xml",
              "--out", out});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("owner 'blue.tvd.opentc.net' mapped to TVD name 'blue'"),
            std::string::npos);
  r = Tvdctl({"policy", "validate", out});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, out + ": valid VM template\n");
  r = Tvdctl({"policy", "import-fig15", kTemplates + "/blue.xml"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, kTemplates +
                       "/blue.xml:7: root element is <tvd-policy>, expected "
                       "<domain>\n");
}

// The draft of a measured-boot policy from a host's event log parses as
// host requirements and, mapped back, accepts that log.
TEST_F(TvdctlTest, DraftsAMeasuredBootPolicy) {
  attest::SyntheticBoot boot = attest::MakeTypicalBoot("known-good");
  std::vector<std::uint8_t> bytes = boot.log.bytes();
  const std::string log = Write("binary_bios_measurements",
                                std::string(bytes.begin(), bytes.end()));
  Result r = Tvdctl({"policy", "measured-boot", log});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("<measured-boot secure-boot=\"required\">"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  <bootloader sha256=\"" +
                       ToHex(Sha256("grubx64.efi known-good")) +
                       "\"/>  <!-- PCR 4, event 30, "
                       "EV_EFI_BOOT_SERVICES_APPLICATION -->\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("  <event pcr=\"2\" type=\"EV_EFI_BOOT_SERVICES_DRIVER\" "
                 "sha256=\"" +
                 ToHex(Sha256("nvme option ROM known-good")) + "\"/>"),
      std::string::npos)
      << r.out;

  auto hr = policy::ParseHostRequirements(
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60">)" +
          r.out + "</host-requirements>",
      "draft.xml");
  ASSERT_TRUE(hr.ok()) << hr.status().message();
  const policy::MeasuredBootRequirement& mb = *hr->measured_boot;
  attest::MeasuredBootPolicy p;
  p.require_secure_boot = mb.require_secure_boot;
  p.firmware = mb.firmware;
  p.shim = mb.shim;
  p.bootloader = mb.bootloader;
  p.kernel = mb.kernel;
  p.pk = mb.pk;
  p.kek = mb.kek;
  p.db = mb.db;
  p.dbx = mb.dbx;
  for (const auto& e : mb.events) {
    p.events.push_back({static_cast<std::uint32_t>(e.pcr), e.type, e.sha256});
  }
  EXPECT_EQ(p.firmware, boot.policy.firmware);
  EXPECT_EQ(p.events, boot.policy.events);
  auto parsed = attest::ParseEventLog(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(attest::CheckMeasuredBoot(*parsed, p), Status::Ok());

  // 'policy show' lists it.
  const std::string hr_file = Write(
      "host.xml",
      R"(<host-requirements xmlns="urn:tvd:policy:1" allow-no-tpm="false" attestation-interval="60">)" +
          r.out + "</host-requirements>");
  Result show = Tvdctl({"policy", "show", hr_file});
  ASSERT_EQ(show.rc, 0) << show.err;
  EXPECT_NE(show.out.find("measured boot (PCRs 0-7 by event log), Secure Boot "
                          "required:\n"),
            std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("  bootloader " +
                          ToHex(Sha256("grubx64.efi known-good")) + "\n"),
            std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("  event PCR 2 type 0x80000004 " +
                          ToHex(Sha256("nvme option ROM known-good")) + "\n"),
            std::string::npos)
      << show.out;

  // --out writes the same to a file.
  const std::string out = (dir_ / "draft.xml").string();
  Result w = Tvdctl({"policy", "measured-boot", log, "--out", out});
  ASSERT_EQ(w.rc, 0) << w.err;
  std::ifstream in(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), r.out);
}

TEST_F(TvdctlTest, MeasuredBootDraftErrors) {
  const std::string garbage = Write("garbage.bin", "not an event log");
  Result r = Tvdctl({"policy", "measured-boot", garbage});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, garbage +
                       ": event log event 0 at byte 0: truncated in the "
                       "header\n");
  r = Tvdctl({"policy", "measured-boot"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err,
            "tvdctl policy: no LOG given\nusage: tvdctl policy measured-boot "
            "LOG [--out F]\n");
  // A log no policy could accept (an edited Secure Boot variable).
  attest::EventLogBuilder b;
  const std::uint8_t on[] = {1};
  std::vector<std::uint8_t> var = attest::UefiVariableData(
      attest::kEfiGlobalVariableGuid, "SecureBoot", on);
  b.Event(7, attest::ev::kEfiVariableDriverConfig, Sha256("measured"), {}, var);
  std::vector<std::uint8_t> bytes = b.bytes();
  const std::string edited =
      Write("edited.bin", std::string(bytes.begin(), bytes.end()));
  r = Tvdctl({"policy", "measured-boot", edited});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, edited +
                       ": event log event 1 (PCR 7, "
                       "EV_EFI_VARIABLE_DRIVER_CONFIG): digest " +
                       ToHex(Sha256("measured")) +
                       " is not the SHA-256 of the event data (" +
                       ToHex(Sha256(var)) + "): the log was altered\n");
}

TEST(TvdctlBinaryTest, SmokeTestOfTheRealBinary) {
  const std::string bin = std::string(TVD_BINARY_DIR) + "/tvdctl/tvdctl";
  std::string cmd = bin + " policy validate";
  for (const std::string& f : TemplateFiles()) cmd += " '" + f + "'";
  cmd += " >/dev/null";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  status =
      std::system((bin + " policy validate /nonexistent 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  status = std::system((bin + " nothing 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace tvd::tvdctl

// The control plane end to end, with the real binaries: tvd-master (config
// file, KEK, EK allowlist, policy directory), one proxy-factory per host
// starting real tvd-proxy processes, and tvdctl driving them through the
// factory's control socket. Two hosts, each a network namespace with its own
// Open vSwitch, charon, swtpm and libvirtd, joined by an underlay bridge.
//
// What is checked is the real world: tvdctl's exit codes and output, OVSDB
// ports, charon's connections and SAs over VICI, libvirt's domains and
// secrets, and pings between VM endpoints through OVS + VXLAN + IPsec.
//
// VMs: libvirtd runs the test driver (test:///default), which defines and
// "starts" domains but creates no tap devices. Each VM's NIC is therefore a
// VmEndpoint: a veth whose host end carries the interface target name of
// the VM's configuration (the name the proxy plugs into OVS) and whose other
// end sits in a namespace of its own with the VM's MAC and an IP address.
// Real QEMU guests are exercised by the testbed.
//
// Where processes run: the factories (and so the proxies) run in the test's
// own network namespace and reach the host namespace's daemons through their
// UNIX sockets (OVSDB, OpenFlow, VICI, libvirt) and its links through
// `--netns` (iproute2). The master and the swtpms listen on loopback there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tvd/attest/esys_tpm.h"
#include "tvd/host/control_socket.h"
#include "tvd/libvirt_filter/file_disk_image_checker.h"
#include "tvd/libvirt_filter/ownership_source.h"
#include "tvd/libvirt_filter/relay_server.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/policy/tvd_policy_parser.h"
#include "tvd/process.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/testing/charon.h"
#include "tvd/testing/libvirt_pki.h"
#include "tvd/testing/libvirtd.h"
#include "tvd/testing/master_config.h"
#include "tvd/testing/netns.h"
#include "tvd/testing/ovs.h"
#include "tvd/testing/port_file.h"
#include "tvd/testing/proxy_test_util.h"
#include "tvd/testing/swtpm.h"
#include "tvd/vswitch/vici/client.h"

namespace tvd::e2e {
namespace {

using nlohmann::json;
using proxy::testing::DomainXml;
using proxy::testing::TestVm;
using proxy::testing::WriteFile;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CharonInstance;
using testing::LibvirtdInstance;
using testing::SwtpmInstance;
using testing::TestHost;
using testing::TestUnderlay;
using testing::UniqueName;
using testing::VmEndpoint;

constexpr char kBridge[] = "br-tvd";
constexpr int kInterval = 2;  // re-attestation interval of both TVDs (s)
const char* const kTvds[] = {"blue", "red"};

std::string Bin(const std::string& rel) {
  return std::string(TVD_BINARY_DIR) + "/" + rel;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `pred` every 100 ms until it holds or `limit` passes.
template <typename Pred>
bool Eventually(Pred pred, milliseconds limit = seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return pred();
}

struct Cli {
  int code = -1;
  std::string out;
  std::string err;
};

Cli Tvdctl(const std::vector<std::string>& args) {
  ProcessOptions o;
  o.argv = {Bin("tvdctl/tvdctl")};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  auto r = RunCommand(o, seconds(120));
  if (!r.ok()) return {-1, "", r.status().ToString()};
  return {r->exit_status, r->out, r->err};
}

// A VM of the test: its files and configuration (as the proxy test helper
// makes them, with a MAC of its own) and its stand-in NIC.
struct Vm {
  std::string tvd;
  int host = 0;
  TestVm files;
  std::string ip;
  std::unique_ptr<VmEndpoint> endpoint;
};

// Writes kernel, initrd, disk and the final configuration (with its real
// measures) of `vm` into `dir`.
void WriteVm(const std::string& dir, TestVm& vm) {
  vm.kernel = dir + "/" + vm.name + "-vmlinuz";
  vm.initrd = dir + "/" + vm.name + "-initrd";
  vm.disk = dir + "/" + vm.name + "-disk.img";
  WriteFile(vm.kernel, "kernel of " + vm.name);
  WriteFile(vm.initrd, "initrd of " + vm.name);
  WriteFile(vm.disk, std::string(100000, 'd') + vm.name);
  auto hex = [](const std::string& p) { return ToHex(*Sha256File(p)); };
  std::string files =
      "      <tvd:measure type='kernel' sha256='" + hex(vm.kernel) +
      "'/>\n      <tvd:measure type='initrd' sha256='" + hex(vm.initrd) +
      "'/>\n      <tvd:measure type='disk' target='vda' "
      "sha256='" +
      hex(vm.disk) + "'/>\n";
  auto parsed = policy::ParseVmConfig(DomainXml(vm, files), "test",
                                      policy::VmConfigMode::kFinal);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  vm.config_path = dir + "/" + vm.name + ".xml";
  WriteFile(vm.config_path,
            DomainXml(vm,
                      "      <tvd:measure type='config' "
                      "sha256='" +
                          ToHex(parsed->ConfigDigest()) + "'/>\n" + files));
  auto final_vm =
      policy::LoadVmConfigFile(vm.config_path, policy::VmConfigMode::kFinal);
  ASSERT_TRUE(final_vm.ok()) << final_vm.status().ToString();
  vm.known_good.vm = vm.name;
  vm.known_good.measures = final_vm->tvd.measures;
}

// One namespace host with its daemons and its proxy-factory.
struct Host {
  std::string name;
  std::unique_ptr<TestHost> test_host;
  std::unique_ptr<CharonInstance> charon;
  std::unique_ptr<SwtpmInstance> swtpm;
  std::unique_ptr<LibvirtdInstance> libvirtd;
  std::string dir;
  ChildProcess factory;
  // libvirt's test driver drops its domains when its last client
  // disconnects (a real hypervisor keeps them): the test holds one
  // connection for the host's lifetime, so a killed proxy's domains stay.
  virConnectPtr hold = nullptr;

  ~Host() {
    if (hold != nullptr) virConnectClose(hold);
  }

  std::string socket() const { return dir + "/factory.sock"; }
  std::string run_dir() const { return dir + "/proxies"; }

  Cli Ctl(std::vector<std::string> args) const {
    args.push_back("--socket=" + socket());
    return Tvdctl(args);
  }

  json Status() const {
    Cli c = Ctl({"status", "--json"});
    if (c.code != 0) return json{{"error", c.err}};
    return json::parse(c.out, nullptr, false);
  }

  // Names of OVS ports with external_ids:tvd=`tvd` (any TVD when empty).
  std::string Ports(const std::string& tvd = "",
                    const std::string& kind = "") const {
    std::vector<std::string> args = {"--format=csv", "--no-headings",
                                     "--columns=name", "find", "Port"};
    args.push_back(tvd.empty() ? "external_ids:tvd!=\"\""
                               : "external_ids:tvd=" + tvd);
    if (!kind.empty()) args.push_back("external_ids:tvd-kind=" + kind);
    auto out = test_host->ovs().Vsctl(args);
    return out.ok() ? *out : "error: " + out.status().ToString();
  }

  // Connection names (loaded conns) in this host's charon.
  std::vector<std::string> Conns() const {
    auto client =
        vici::ViciClient::Connect({.socket_path = charon->vici_socket()});
    if (!client.ok()) return {"error: " + client.status().ToString()};
    auto conns = (*client)->GetConns();
    if (!conns.ok()) return {"error: " + conns.status().ToString()};
    return *conns;
  }
  // Names of established IKE SAs.
  std::vector<std::string> Sas() const {
    auto client =
        vici::ViciClient::Connect({.socket_path = charon->vici_socket()});
    if (!client.ok()) return {"error: " + client.status().ToString()};
    auto sas = (*client)->ListSas();
    if (!sas.ok()) return {"error: " + sas.status().ToString()};
    std::vector<std::string> names;
    for (const vici::Message& m : *sas) {
      for (const vici::Message::Entry& e : m.entries()) names.push_back(e.name);
    }
    return names;
  }

  // Domains libvirt has (the test driver's own "test" domain excluded).
  std::vector<std::string> Domains() const {
    std::vector<std::string> names;
    virConnectPtr c =
        virConnectOpen(libvirtd->ClientUri("test:///default").c_str());
    if (c == nullptr) return {"error: cannot connect"};
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(c, &doms, 0);
    for (int i = 0; i < n; ++i) {
      std::string name = virDomainGetName(doms[i]);
      if (name != "test") names.push_back(name);
      virDomainFree(doms[i]);
    }
    std::free(doms);
    virConnectClose(c);
    std::sort(names.begin(), names.end());
    return names;
  }
  // The domain's XML as libvirt has it (for failure messages).
  std::string DomainXml(const std::string& name) const {
    virConnectPtr c =
        virConnectOpen(libvirtd->ClientUri("test:///default").c_str());
    if (c == nullptr) return "error: cannot connect";
    std::string xml = "no domain " + name;
    if (virDomainPtr d = virDomainLookupByName(c, name.c_str())) {
      char* x = virDomainGetXMLDesc(d, 0);
      if (x != nullptr) xml = x;
      std::free(x);
      virDomainFree(d);
    }
    virConnectClose(c);
    return xml;
  }
  // Usage ids of libvirt secrets.
  std::vector<std::string> Secrets() const {
    std::vector<std::string> ids;
    virConnectPtr c =
        virConnectOpen(libvirtd->ClientUri("secret:///system").c_str());
    if (c == nullptr) return {"error: cannot connect"};
    virSecretPtr* secs = nullptr;
    int n = virConnectListAllSecrets(c, &secs, 0);
    for (int i = 0; i < n; ++i) {
      const char* usage = virSecretGetUsageID(secs[i]);
      ids.push_back(usage ? usage : "?");
      virSecretFree(secs[i]);
    }
    std::free(secs);
    virConnectClose(c);
    return ids;
  }
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
bool AnyWith(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& s : v) {
    if (s.find(part) != std::string::npos) return true;
  }
  return false;
}
std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

class LifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = "/tmp/tvd-e2e-" + std::to_string(::getpid()) + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    ASSERT_NO_FATAL_FAILURE(MakePki());
    auto underlay = TestUnderlay::Create();
    ASSERT_TRUE(underlay.ok()) << underlay.status().ToString();
    underlay_ = underlay->release();
    for (int i = 0; i < 2; ++i) {
      hosts_[i] = new Host();
      ASSERT_NO_FATAL_FAILURE(StartHost(*hosts_[i], i));
    }
    ASSERT_NO_FATAL_FAILURE(MakeVms());
    ASSERT_NO_FATAL_FAILURE(WriteMasterFiles());
    ASSERT_NO_FATAL_FAILURE(StartMaster());
    for (Host* h : hosts_) ASSERT_NO_FATAL_FAILURE(StartFactory(*h));
  }

  static void TearDownTestSuite() {
    // Factories first (they stop their proxies), then the master, then
    // the hosts' daemons and namespaces.
    for (Host* h : hosts_) {
      if (h != nullptr) (void)h->factory.Stop(seconds(10));
    }
    if (master_ != nullptr) (void)master_->Stop(seconds(10));
    delete master_;
    master_ = nullptr;
    delete vms_;
    vms_ = nullptr;
    for (Host*& h : hosts_) {
      delete h;
      h = nullptr;
    }
    delete underlay_;
    underlay_ = nullptr;
    if (dir_ != nullptr && ::getenv("TVD_E2E_KEEP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*dir_, ec);
    }
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(master_, nullptr) << "suite set-up failed";
    for (Host* h : hosts_) ASSERT_NE(h, nullptr);
  }

  // Every test ends with no membership anywhere, so the next one starts
  // from the same world.
  void TearDown() override {
    for (Host* h : hosts_) {
      if (h == nullptr) continue;
      for (const char* t : kTvds) (void)h->Ctl({"leave", t});
      (void)ResetPcr16(*h);
    }
  }

  // --- set-up ---------------------------------------------------------

  static void MakePki() {
    std::string pki = *dir_ + "/pki";
    Cli c = Tvdctl({"pki", "init", "--dir", pki, "--name", "e2e-vdc"});
    ASSERT_EQ(c.code, 0) << c.err;
    for (const char* host : {"tvd-master", "host1", "host2"}) {
      c = Tvdctl({"pki", "issue", "host", host, "--dir", pki});
      ASSERT_EQ(c.code, 0) << c.err;
    }
    c = Tvdctl({"pki", "issue", "admin", "alice", "--dir", pki});
    ASSERT_EQ(c.code, 0) << c.err;
  }

  static void StartHost(Host& h, int i) {
    h.name = "host" + std::to_string(i + 1);
    h.dir = *dir_ + "/" + h.name;
    std::filesystem::create_directories(h.dir);
    auto th = TestHost::Create(h.name, underlay_,
                               "198.18.0." + std::to_string(i + 1));
    ASSERT_TRUE(th.ok()) << th.status().ToString();
    h.test_host = std::move(th).value();
    auto charon = CharonInstance::Start(h.test_host->ns());
    ASSERT_TRUE(charon.ok()) << charon.status().ToString();
    h.charon = std::move(charon).value();
    auto swtpm = SwtpmInstance::Start();
    ASSERT_TRUE(swtpm.ok()) << swtpm.status().ToString();
    h.swtpm = std::move(swtpm).value();
    auto libvirtd = LibvirtdInstance::Start();
    ASSERT_TRUE(libvirtd.ok()) << libvirtd.status().ToString();
    h.libvirtd = std::move(libvirtd).value();
    h.hold = virConnectOpen(h.libvirtd->ClientUri("test:///default").c_str());
    ASSERT_NE(h.hold, nullptr);
  }

  // The tap the proxy names for the VM's NIC (the policy ids: blue 1, red 2).
  static std::string Tap(const Vm& vm) {
    return tvd::proxy::TapName(vm.tvd, vm.tvd == "blue" ? 1 : 2, vm.files.name,
                               0);
  }

  static void MakeVms() {
    vms_ = new std::vector<std::unique_ptr<Vm>>();
    std::string dir = *dir_ + "/vms";
    std::filesystem::create_directories(dir);
    int n = 0;
    for (const char* tvd : kTvds) {
      for (int hi = 0; hi < 2; ++hi, ++n) {
        auto vm = std::make_unique<Vm>();
        vm->tvd = tvd;
        vm->host = hi;
        vm->files.name = std::string(tvd) + "-h" + std::to_string(hi + 1);
        vm->files.tvd = tvd;
        vm->files.network = std::string(tvd) + "-data";
        // The NIC's name in the configuration; the host device is the
        // proxy's tap (TapName), which the endpoint stands for.
        vm->files.port = UniqueName("vp");
        vm->files.encrypted = true;
        char mac[32];
        std::snprintf(mac, sizeof mac, "52:54:00:00:%02x:%02x", hi + 1, n);
        vm->files.mac = mac;
        // One subnet for both TVDs: only the vSwitch keeps them apart.
        vm->ip = "198.19.0." + std::to_string(n + 1);
        ASSERT_NO_FATAL_FAILURE(WriteVm(dir, vm->files));
        auto ep = VmEndpoint::Create(hosts_[hi]->test_host->ns().name(),
                                     Tap(*vm), vm->files.mac, vm->ip);
        ASSERT_TRUE(ep.ok()) << ep.status().ToString();
        vm->endpoint = std::move(ep).value();
        vms_->push_back(std::move(vm));
      }
    }
  }

  // The policy of `tvd`: its network, PCR 16 as the hosts' swtpms really
  // hold it (read from them), host1 and host2, its VMs' real measures, a
  // disk key for every VM.
  static std::string PolicyXml(const std::string& tvd, int id,
                               const Sha256Digest& pcr16) {
    std::string x = "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"" + tvd +
                    "\" id=\"" + std::to_string(id) + "\">\n";
    x += "  <owner subject=\"CN=" + tvd + "-tenant,O=T\"/>\n";
    x += "  <networks><network name=\"" + tvd + "-data\" kind=\"data\" vni=\"" +
         std::to_string(1000 + id) + "\"/></networks>\n";
    x += "  <transport><ipsec ike=\"aes256gcm16-prfsha256-ecp256\" "
         "esp=\"aes256gcm16-ecp256\"/></transport>\n";
    x += "  <host-requirements allow-no-tpm=\"false\" "
         "attestation-interval=\"" +
         std::to_string(kInterval) +
         "\">\n    <pcr bank=\"sha256\" index=\"16\"><known-good value=\"" +
         ToHex(pcr16) + "\"/></pcr>\n  </host-requirements>\n";
    x += "  <authorized-hosts><host subject=\"CN=host1,O=e2e-vdc\"/>"
         "<host subject=\"CN=host2,O=e2e-vdc\"/></authorized-hosts>\n";
    x += "  <vms>\n";
    std::string keys;
    for (const auto& vm : *vms_) {
      if (vm->tvd != tvd) continue;
      x += "    <vm name=\"" + vm->files.name + "\">";
      for (const policy::Measurement& m : vm->files.known_good.measures) {
        x += "<measure type=\"" + std::string(policy::MeasureTypeName(m.type)) +
             "\"" + (m.target.empty() ? "" : " target=\"" + m.target + "\"") +
             " sha256=\"" + ToHex(*m.sha256) + "\"/>";
      }
      x += "</vm>\n";
      keys += "<disk-key vm=\"" + vm->files.name + "\"/>";
    }
    x += "  </vms>\n  <key-release>" + keys + "</key-release>\n";
    x += "</tvd-policy>\n";
    return x;
  }

  static void WriteMasterFiles() {
    std::string eks;
    std::optional<Sha256Digest> pcr16;
    for (Host* h : hosts_) {
      auto tpm = h->swtpm->Open();
      ASSERT_TRUE(tpm.ok()) << tpm.status().ToString();
      auto ek = (*tpm)->EkPublic();
      ASSERT_TRUE(ek.ok()) << ek.status().ToString();
      eks += h->name + " " + ToHex(Sha256(*ek)) + "\n";
      std::uint32_t index = 16;
      auto pcrs = (*tpm)->ReadPcrs({&index, 1});
      ASSERT_TRUE(pcrs.ok()) << pcrs.status().ToString();
      if (pcr16) {
        ASSERT_EQ((*pcrs)[0].value, *pcr16) << "hosts differ";
      }
      pcr16 = (*pcrs)[0].value;
    }
    std::string m = *dir_ + "/master";
    std::filesystem::create_directories(m + "/policies");
    WriteFile(m + "/eks.txt", eks);
    {
      // The KEK exists only with mode 0600.
      int fd = ::open((m + "/master.kek").c_str(), O_WRONLY | O_CREAT | O_EXCL,
                      0600);
      ASSERT_GE(fd, 0);
      auto kek = SecureBytes::Random(32);
      ASSERT_EQ(::write(fd, kek.view().data(), kek.size()), 32);
      ::close(fd);
    }
    pcr16_ = *pcr16;
    WriteFile(m + "/policies/blue.xml", PolicyXml("blue", 1, *pcr16));
    WriteFile(m + "/policies/red.xml", PolicyXml("red", 2, *pcr16));
    // Port 0 at the first start: the master reports the port it bound in
    // its --port-file; StartMaster then fixes it in the config, so that a
    // restarted master is where the proxies expect it.
    master_port_ = 0;
    std::string pki = *dir_ + "/pki";
    tvd::testing::MasterConfigFile config =
        tvd::testing::MasterConfigFile::InDir(m, master_port_);
    config.ca_cert = pki + "/ca.crt";
    config.cert = pki + "/host-tvd-master.crt";
    config.key = pki + "/host-tvd-master.key";
    config.state_db = m + "/state.db";
    WriteFile(m + "/master.conf", config.Text());
  }

  static void StartMaster() {
    const std::string m = *dir_ + "/master";
    ProcessOptions o;
    o.argv = {Bin("tvd-master/tvd-master"), "--config", m + "/master.conf",
              "--port-file", m + "/master.port"};
    o.stderr_path = m + "/master.log";
    o.stdout_path = o.stderr_path;
    std::filesystem::remove(m + "/master.port");
    auto child = ChildProcess::Start(o);
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    master_ = new ChildProcess(std::move(child).value());
    StatusOr<std::uint16_t> port = tvd::testing::WaitForPortFile(
        m + "/master.port", std::chrono::milliseconds(30000), master_->pid());
    ASSERT_TRUE(port.ok()) << port.status() << "\n"
                           << ReadAll(m + "/master.log");
    if (master_port_ == 0) {
      master_port_ = *port;
      std::string text = ReadAll(m + "/master.conf");
      const std::string zero = "listen_port = 0\n";
      const std::size_t at = text.find(zero);
      ASSERT_NE(at, std::string::npos) << text;
      text.replace(at, zero.size(),
                   "listen_port = " + std::to_string(master_port_) + "\n");
      WriteFile(m + "/master.conf", text);
    }
    ASSERT_EQ(*port, master_port_);
    bool up = Eventually(
        [] { return !Admin(protocol::AdminQueryKind::kTvds).is_null(); },
        seconds(30));
    ASSERT_TRUE(up) << ReadAll(*dir_ + "/master/master.log");
  }

  // An admin client of the master (alice's certificate), or null.
  static std::unique_ptr<channel::TlsContext> AdminTls() {
    std::string pki = *dir_ + "/pki";
    channel::TlsCredentials creds;
    creds.ca_cert_pem = ReadAll(pki + "/ca.crt");
    creds.cert_pem = ReadAll(pki + "/admin-alice.crt");
    std::string key = ReadAll(pki + "/admin-alice.key");
    creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
    auto tls = channel::TlsContext::Create(channel::TlsSide::kClient, creds);
    if (!tls.ok()) return nullptr;
    return std::move(tls).value();
  }

  // The master's admin view (null when it does not answer).
  static json Admin(protocol::AdminQueryKind kind,
                    const std::string& name = "") {
    std::unique_ptr<channel::TlsContext> tls = AdminTls();
    if (tls == nullptr) return json();
    protocol::AdminClient admin(
        {"127.0.0.1", master_port_, {pki::Role::kHost, "tvd-master"}}, *tls,
        milliseconds(3000));
    auto reply = admin.Query({kind, name});
    if (!reply.ok()) return json();
    return json::parse(*reply, nullptr, false);
  }

  static void StartFactory(Host& h) {
    std::string pki = *dir_ + "/pki";
    const TestHost& th = *h.test_host;
    ProcessOptions o;
    o.argv = {Bin("proxy-factory/proxy-factory"),
              "--socket",
              h.socket(),
              "--run-dir",
              h.run_dir(),
              "--proxy",
              Bin("tvd-proxy/tvd-proxy")};
    for (const std::string& a : std::vector<std::string>{
             "--host=" + h.name, "--address=" + th.address(),
             "--master=127.0.0.1:" + std::to_string(master_port_),
             "--ca=" + pki + "/ca.crt",
             "--cert=" + pki + "/host-" + h.name + ".crt",
             "--key=" + pki + "/host-" + h.name + ".key",
             "--tcti=" + h.swtpm->tcti(),
             "--ovsdb=" + h.test_host->ovs().db_socket(),
             "--openflow=" + h.test_host->ovs().mgmt_socket(kBridge),
             "--bridge=" + std::string(kBridge),
             "--vici=" + h.charon->vici_socket(), "--netns=" + th.ns().name(),
             "--libvirt-uri=" + h.libvirtd->ClientUri("test:///default"),
             "--secrets-uri=" + h.libvirtd->ClientUri("secret:///system"),
             "--state-dir=" + h.dir + "/proxy-state"}) {
      o.argv.push_back("--proxy-arg=" + a);
    }
    o.stderr_path = h.dir + "/factory.log";
    o.stdout_path = o.stderr_path;
    auto child = ChildProcess::Start(o);
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    h.factory = std::move(child).value();
    bool up = Eventually([&] { return h.Ctl({"status"}).code == 0; });
    ASSERT_TRUE(up) << ReadAll(h.dir + "/factory.log");
  }

  // --- helpers of the tests -------------------------------------------

  static Vm& VmOf(const std::string& tvd, int host) {
    for (auto& vm : *vms_) {
      if (vm->tvd == tvd && vm->host == host) return *vm;
    }
    std::abort();
  }

  static Status ResetPcr16(Host& h) {
    TVD_ASSIGN_OR_RETURN(auto tpm, h.swtpm->Open());
    return tpm->ResetPcr(16);
  }

  // Joins `tvd` on `host` with tvdctl and checks the answer.
  static void JoinOk(int host, const std::string& tvd) {
    Cli c = hosts_[host]->Ctl({"join", tvd, "--json"});
    ASSERT_EQ(c.code, 0) << c.err << "\n"
                         << ReadAll(hosts_[host]->run_dir() + "/" + tvd +
                                    ".log");
    json j = json::parse(c.out, nullptr, false);
    EXPECT_EQ(j["tvd"], tvd) << c.out;
    EXPECT_GT(j["pid"].get<int>(), 0) << c.out;
  }

  static void AttachOk(const Vm& vm) {
    Cli c = hosts_[vm.host]->Ctl(
        {"attach", vm.tvd, vm.files.config_path, "--json"});
    ASSERT_EQ(c.code, 0) << c.err << "\n"
                         << ReadAll(hosts_[vm.host]->run_dir() + "/" + vm.tvd +
                                    ".log");
    // The attach reports the tap the proxy named and plugged.
    json j = json::parse(c.out, nullptr, false);
    EXPECT_EQ(j["ports"], json::array({Tap(vm)})) << c.out;
  }

  // Both hosts join blue and each attaches its blue VM (VmOf("blue", h)).
  static void BlueOnBothHosts() {
    for (int h : {0, 1}) ASSERT_NO_FATAL_FAILURE(JoinOk(h, "blue"));
    for (int h : {0, 1}) ASSERT_NO_FATAL_FAILURE(AttachOk(VmOf("blue", h)));
  }

  static void LeaveOk(int host, const std::string& tvd) {
    Cli c = hosts_[host]->Ctl({"leave", tvd});
    ASSERT_EQ(c.code, 0) << c.err;
  }

  // a reaches b within a few tries (tunnels may still be coming up).
  static bool Reaches(const Vm& a, const Vm& b, int tries = 8) {
    for (int i = 0; i < tries; ++i) {
      if (a.endpoint->Ping(b.ip, 1, 1).ok()) return true;
    }
    return false;
  }
  static bool Blocked(const Vm& a, const Vm& b) {
    return !a.endpoint->Ping(b.ip, 2, 1).ok();
  }

  // Pings every ordered pair among `vms` in parallel; returns the failures.
  static std::vector<std::string> Matrix(const std::vector<Vm*>& vms) {
    std::vector<std::future<std::string>> results;
    for (Vm* a : vms) {
      for (Vm* b : vms) {
        if (a == b) continue;
        bool want = a->tvd == b->tvd;
        results.push_back(std::async(std::launch::async, [a, b, want] {
          bool got = want ? Reaches(*a, *b) : !Blocked(*a, *b);
          if (got == want) return std::string();
          return a->files.name + " -> " + b->files.name +
                 (want ? ": expected reachable" : ": expected blocked");
        }));
      }
    }
    std::vector<std::string> failures;
    for (auto& r : results) {
      std::string f = r.get();
      if (!f.empty()) failures.push_back(f);
    }
    return failures;
  }

  // The factory's entry for `tvd` in `tvdctl status --json` (null if none).
  static json FactoryEntry(int host, const std::string& tvd) {
    json s = hosts_[host]->Status();
    if (!s.contains("tvds")) return json();
    for (const json& t : s["tvds"]) {
      if (t["tvd"] == tvd) return t;
    }
    return json();
  }

  // Nothing of any TVD is left on host `i`.
  static void ExpectHostClean(int i) {
    Host& h = *hosts_[i];
    EXPECT_EQ(h.Ports(), "") << h.name;
    EXPECT_TRUE(h.Conns().empty()) << h.name << ": " << Join(h.Conns());
    EXPECT_TRUE(Eventually([&] { return h.Sas().empty(); }, seconds(10)))
        << h.name << ": " << Join(h.Sas());
    EXPECT_TRUE(h.Domains().empty()) << h.name << ": " << Join(h.Domains());
    EXPECT_TRUE(h.Secrets().empty()) << h.name << ": " << Join(h.Secrets());
    json s = h.Status();
    EXPECT_TRUE(s["tvds"].empty()) << s.dump();
    // The factory documents a log per TVD and the joined-TVD list in its
    // run dir (docs/host.md); sockets go away and the list is empty.
    for (const auto& e : std::filesystem::directory_iterator(h.run_dir())) {
      if (e.path().filename() == "joined") {
        EXPECT_EQ(ReadAll(e.path()), "") << e.path();
        continue;
      }
      if (e.path().filename() == "usage") {
        EXPECT_TRUE(std::filesystem::is_empty(e.path())) << e.path();
        continue;
      }
      EXPECT_EQ(e.path().extension(), ".log") << e.path();
    }
  }

  // What the hosts have, for failure messages.
  static std::string Diagnose() {
    std::string d;
    for (Host* h : hosts_) {
      d += "== " + h->name + " conns: " + Join(h->Conns()) +
           "\n   sas: " + Join(h->Sas()) + "\n   ports: " + h->Ports() + "\n";
      auto flows = h->test_host->ovs().DumpFlows(kBridge);
      d += flows.ok() ? *flows : flows.status().ToString();
      auto routes =
          h->test_host->ns().Exec({"ip", "route", "show", "table", "all"});
      if (routes.ok()) d += routes->out;
    }
    return d;
  }

  static bool factory_running(int host) {
    return hosts_[host]->factory.Running();
  }

  static std::string* dir_;
  static TestUnderlay* underlay_;
  static Host* hosts_[2];
  static std::vector<std::unique_ptr<Vm>>* vms_;
  static ChildProcess* master_;
  static std::uint16_t master_port_;
  static Sha256Digest pcr16_;
};

std::string* LifecycleTest::dir_ = nullptr;
TestUnderlay* LifecycleTest::underlay_ = nullptr;
Host* LifecycleTest::hosts_[2] = {nullptr, nullptr};
std::vector<std::unique_ptr<Vm>>* LifecycleTest::vms_ = nullptr;
ChildProcess* LifecycleTest::master_ = nullptr;
std::uint16_t LifecycleTest::master_port_ = 0;
Sha256Digest LifecycleTest::pcr16_{};

TEST_F(LifecycleTest, TwoHostsTwoTvdsJoinAttachPingDetachLeave) {
  for (int h : {0, 1}) {
    for (const char* t : kTvds) ASSERT_NO_FATAL_FAILURE(JoinOk(h, t));
  }
  // The master sees both hosts in both TVDs.
  for (const char* t : kTvds) {
    json view = Admin(protocol::AdminQueryKind::kTvd, t);
    ASSERT_EQ(view["members"].size(), 2u) << view.dump();
  }
  for (auto& vm : *vms_) ASSERT_NO_FATAL_FAILURE(AttachOk(*vm));
  for (int h : {0, 1}) {
    Host& host = *hosts_[h];
    for (const char* t : kTvds) {
      EXPECT_NE(host.Ports(t, "vm").find(Tap(VmOf(t, h))), std::string::npos)
          << host.Ports(t, "vm");
      EXPECT_TRUE(Contains(host.Domains(), VmOf(t, h).files.name));
      EXPECT_TRUE(Contains(host.Conns(), std::string("tvd-") + t + "-host" +
                                             std::to_string(2 - h)))
          << Join(host.Conns());
    }
    // One ephemeral secret per VM (every VM has an encrypted disk).
    EXPECT_EQ(host.Secrets().size(), 2u) << Join(host.Secrets());
  }
  // tvdctl status shows both TVDs with their VM.
  json st = hosts_[0]->Status();
  ASSERT_EQ(st["tvds"].size(), 2u) << st.dump();
  for (const json& t : st["tvds"]) {
    EXPECT_EQ(t["state"], "running");
    ASSERT_EQ(t["proxy"]["vms"].size(), 1u) << t.dump();
    EXPECT_EQ(t["proxy"]["members"].size(), 2u) << t.dump();
  }

  std::vector<Vm*> all;
  for (auto& vm : *vms_) all.push_back(vm.get());
  EXPECT_EQ(Join(Matrix(all)), "");
  // The traffic between the hosts went through IPsec.
  EXPECT_TRUE(AnyWith(hosts_[0]->Sas(), "tvd-blue-host2"))
      << Join(hosts_[0]->Sas());
  EXPECT_TRUE(AnyWith(hosts_[0]->Sas(), "tvd-red-host2"))
      << Join(hosts_[0]->Sas());

  // Detach red's VM on host2: its port and domain go, its secret too.
  Vm& red2 = VmOf("red", 1);
  Cli c = hosts_[1]->Ctl({"detach", "red", red2.files.name});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(hosts_[1]->Ports("red", "vm"), "");
  EXPECT_FALSE(Contains(hosts_[1]->Domains(), red2.files.name));
  EXPECT_EQ(hosts_[1]->Secrets().size(), 1u) << Join(hosts_[1]->Secrets());
  EXPECT_TRUE(Blocked(VmOf("red", 0), red2));

  // host1 leaves red: red's domain, ports, SAs and secret there go; blue on
  // host1 is untouched; host2's red drops its tunnel to host1.
  ASSERT_NO_FATAL_FAILURE(LeaveOk(0, "red"));
  Host& h1 = *hosts_[0];
  Host& h2 = *hosts_[1];
  EXPECT_EQ(h1.Ports("red"), "");
  EXPECT_FALSE(Contains(h1.Domains(), "red-h1"));
  EXPECT_FALSE(AnyWith(h1.Secrets(), "tvd/red/")) << Join(h1.Secrets());
  EXPECT_FALSE(AnyWith(h1.Conns(), "tvd-red-")) << Join(h1.Conns());
  EXPECT_TRUE(
      Eventually([&] { return !AnyWith(h1.Sas(), "tvd-red-"); }, seconds(10)))
      << Join(h1.Sas());
  EXPECT_TRUE(Contains(h1.Domains(), "blue-h1"));
  EXPECT_NE(h1.Ports("blue", "vm"), "");
  EXPECT_TRUE(Reaches(VmOf("blue", 0), VmOf("blue", 1))) << Diagnose();
  EXPECT_TRUE(Reaches(VmOf("blue", 1), VmOf("blue", 0)));
  EXPECT_TRUE(Eventually([&] { return !Contains(h2.Conns(), "tvd-red-host1"); },
                         seconds(10)))
      << Join(h2.Conns());
  json red_view = Admin(protocol::AdminQueryKind::kTvd, "red");
  ASSERT_EQ(red_view["members"].size(), 1u) << red_view.dump();
  EXPECT_EQ(red_view["members"][0]["host"], "host2");

  // The last leaves leave nothing behind.
  ASSERT_NO_FATAL_FAILURE(LeaveOk(0, "blue"));
  ASSERT_NO_FATAL_FAILURE(LeaveOk(1, "blue"));
  ASSERT_NO_FATAL_FAILURE(LeaveOk(1, "red"));
  ExpectHostClean(0);
  ExpectHostClean(1);
}

TEST_F(LifecycleTest, KilledProxyIsRestartedAndReconciles) {
  ASSERT_NO_FATAL_FAILURE(BlueOnBothHosts());
  Vm& b1 = VmOf("blue", 0);
  Vm& b2 = VmOf("blue", 1);
  ASSERT_TRUE(Reaches(b1, b2));
  json before = FactoryEntry(0, "blue");
  ASSERT_TRUE(before.is_object()) << hosts_[0]->Status().dump();
  const int pid = before["pid"].get<int>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // The factory starts a new proxy, which joins again and adopts the VM.
  json after;
  ASSERT_TRUE(Eventually([&] {
    after = FactoryEntry(0, "blue");
    return after.is_object() && after["state"] == "running" &&
           after["pid"] != pid && after.contains("proxy");
  })) << after.dump();
  EXPECT_EQ(after["restarts"], 1);
  ASSERT_EQ(after["proxy"]["vms"].size(), 1u)
      << after.dump() << hosts_[0]->DomainXml(b1.files.name);
  EXPECT_EQ(after["proxy"]["vms"][0]["name"], b1.files.name);
  EXPECT_NE(hosts_[0]->Ports("blue", "vm").find(Tap(b1)), std::string::npos);
  EXPECT_TRUE(Contains(hosts_[0]->Domains(), b1.files.name));
  EXPECT_TRUE(Reaches(b1, b2)) << Diagnose();
  EXPECT_TRUE(Reaches(b2, b1));
  // Still one membership per host at the master.
  json view = Admin(protocol::AdminQueryKind::kTvd, "blue");
  EXPECT_EQ(view["members"].size(), 2u) << view.dump();
}

TEST_F(LifecycleTest, VmWithAWrongMeasurementIsRefused) {
  ASSERT_NO_FATAL_FAILURE(JoinOk(0, "blue"));
  Vm& vm = VmOf("blue", 0);
  const std::string good = ToHex(*Sha256File(vm.files.initrd));
  const std::string original = ReadAll(vm.files.initrd);
  WriteFile(vm.files.initrd, "an initrd nobody approved");
  Cli c = hosts_[0]->Ctl({"attach", "blue", vm.files.config_path});
  WriteFile(vm.files.initrd, original);
  EXPECT_EQ(c.code, 1) << c.out << c.err;
  EXPECT_NE(
      c.err.find("permission-denied: VM '" + vm.files.name +
                 "': measured initrd (" + vm.files.initrd + ") has sha256 " +
                 ToHex(Sha256("an initrd nobody approved")) +
                 " but TVD 'blue' expects " + good),
      std::string::npos)
      << c.err;
  // Nothing started: no domain, no port, no secret, no VM in the status.
  EXPECT_TRUE(hosts_[0]->Domains().empty()) << Join(hosts_[0]->Domains());
  EXPECT_EQ(hosts_[0]->Ports("blue", "vm"), "");
  EXPECT_TRUE(hosts_[0]->Secrets().empty());
  json entry = FactoryEntry(0, "blue");
  EXPECT_TRUE(entry["proxy"]["vms"].empty()) << entry.dump();
}

TEST_F(LifecycleTest, HostWithABadTcbCannotJoin) {
  // host2's PCR 16 no longer holds the known-good value.
  Sha256Digest changed{};
  ASSERT_TRUE(hosts_[1]->swtpm->ExtendPcr(16, Sha256("rootkit")).ok());
  {
    std::uint32_t index = 16;
    auto tpm = hosts_[1]->swtpm->Open();
    ASSERT_TRUE(tpm.ok());
    auto pcrs = (*tpm)->ReadPcrs({&index, 1});
    ASSERT_TRUE(pcrs.ok());
    changed = (*pcrs)[0].value;
  }
  Cli c = hosts_[1]->Ctl({"join", "blue"});
  EXPECT_EQ(c.code, 1) << c.out << c.err;
  EXPECT_NE(c.err.find("PCR 16 value " + ToHex(changed) +
                       " is not a known-good value"),
            std::string::npos)
      << c.err;
  EXPECT_TRUE(hosts_[1]->Status()["tvds"].empty());
  json view = Admin(protocol::AdminQueryKind::kTvd, "blue");
  EXPECT_TRUE(view["members"].empty()) << view.dump();
  EXPECT_EQ(hosts_[1]->Ports(), "");
  EXPECT_TRUE(hosts_[1]->Conns().empty());
}

TEST_F(LifecycleTest, MemberFailingReattestationIsEvicted) {
  ASSERT_NO_FATAL_FAILURE(BlueOnBothHosts());
  Vm& b1 = VmOf("blue", 0);
  Vm& b2 = VmOf("blue", 1);
  ASSERT_TRUE(Reaches(b1, b2));
  ASSERT_TRUE(Contains(hosts_[0]->Conns(), "tvd-blue-host2"));
  // host2's TCB changes after it joined.
  auto changed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(hosts_[1]->swtpm->ExtendPcr(16, Sha256("rootkit")).ok());
  // Within one interval plus slack (the round's own time, the proxy's
  // leave): host2's proxy has left, host1 has dropped its tunnel. The
  // proxy's leave removes domains, ports, tunnels and secrets in turn, so
  // all of them are waited for: checking the last ones after the first
  // were seen gone would catch the leave half way.
  const auto limit = seconds(kInterval + 8);
  Host& h1 = *hosts_[0];
  Host& h2 = *hosts_[1];
  EXPECT_TRUE(Eventually(
      [&] {
        return h2.Domains().empty() && h2.Ports() == "" && h2.Conns().empty() &&
               h2.Secrets().empty() && !Contains(h1.Conns(), "tvd-blue-host2");
      },
      limit))
      << Diagnose() << "\n"
      << Join(h2.Domains()) << "\n"
      << Join(h2.Conns()) << "\n"
      << Join(h2.Secrets());
  auto took = std::chrono::steady_clock::now() - changed_at;
  EXPECT_LT(took, limit);
  RecordProperty(
      "eviction_ms",
      static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
  EXPECT_TRUE(h2.Secrets().empty()) << Join(h2.Secrets());
  EXPECT_TRUE(h2.Conns().empty()) << Join(h2.Conns());
  // The factory forgets the proxy that left (it is not restarted).
  EXPECT_TRUE(
      Eventually([&] { return FactoryEntry(1, "blue").is_null(); }, seconds(5)))
      << h2.Status().dump();
  json view = Admin(protocol::AdminQueryKind::kTvd, "blue");
  ASSERT_EQ(view["members"].size(), 1u) << view.dump();
  EXPECT_EQ(view["members"][0]["host"], "host1");
  json hosts = Admin(protocol::AdminQueryKind::kHosts);
  for (const json& h : hosts["hosts"]) {
    if (h["name"] == "host2") {
      EXPECT_EQ(h["attested"], false) << h.dump();
    }
  }
  // host1 keeps its VM.
  EXPECT_TRUE(Contains(h1.Domains(), b1.files.name));
}

TEST_F(LifecycleTest, MasterRestartKeepsMembersRunning) {
  ASSERT_NO_FATAL_FAILURE(BlueOnBothHosts());
  Vm& b1 = VmOf("blue", 0);
  Vm& b2 = VmOf("blue", 1);
  ASSERT_TRUE(Reaches(b1, b2));
  json before = Admin(protocol::AdminQueryKind::kTvd, "blue");
  // Stop the master by its PID (SIGTERM): it exits 0.
  ASSERT_TRUE(master_->Signal(SIGTERM).ok());
  auto code = master_->Wait(seconds(15));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
  // The members keep running without it.
  EXPECT_TRUE(Reaches(b1, b2));
  EXPECT_EQ(FactoryEntry(0, "blue")["state"], "running");
  delete master_;
  master_ = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartMaster());
  // Both reconnect (the master sees them connected again) and the state is
  // intact.
  json view;
  EXPECT_TRUE(Eventually([&] {
    view = Admin(protocol::AdminQueryKind::kTvd, "blue");
    if (!view.contains("members") || view["members"].size() != 2) {
      return false;
    }
    for (const json& m : view["members"]) {
      if (m["connected"] != true) return false;
    }
    return true;
  })) << view.dump();
  EXPECT_GT(view["epoch"].get<int>(), before["epoch"].get<int>());
  // tvdctl status still shows both members, the proxies were not restarted.
  for (int h : {0, 1}) {
    json entry = FactoryEntry(h, "blue");
    EXPECT_EQ(entry["restarts"], 0) << entry.dump();
    EXPECT_EQ(entry["proxy"]["members"].size(), 2u) << entry.dump();
  }
  // After the rekey (new epoch, new tunnel keys), the VMs still talk.
  EXPECT_TRUE(Eventually([&] { return Reaches(b1, b2, 2); }, seconds(15)))
      << Diagnose();
  EXPECT_TRUE(Reaches(b2, b1));
}

// A crash (SIGKILL, no chance to flush or close) loses nothing the master
// had acknowledged: the joins (granted) and the VM reports (answered) are
// there after a restart from the same state database, i.e. the master
// commits before it answers. (A power loss on top is what SQLite's
// synchronous=FULL is for; a process kill cannot show that part.)
TEST_F(LifecycleTest, MasterKilledLosesNothingItAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(BlueOnBothHosts());
  Vm& b1 = VmOf("blue", 0);
  Vm& b2 = VmOf("blue", 1);
  // Both VM reports acknowledged (listed by the master).
  json before;
  ASSERT_TRUE(Eventually([&] {
    before = Admin(protocol::AdminQueryKind::kTvd, "blue");
    return before.contains("vms") && before["vms"].size() == 2;
  })) << before.dump();
  auto summary = [](const json& view) {
    std::vector<std::string> out;
    for (const json& m : view["members"]) {
      out.push_back("member " + m["host"].get<std::string>() + " attested " +
                    (m["attested"].get<bool>() ? "yes" : "no"));
    }
    for (const json& v : view["vms"]) {
      out.push_back("vm " + v["vm"].get<std::string>() + " on " +
                    v["host"].get<std::string>() + " " +
                    v["uuid"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  };

  ASSERT_EQ(::kill(master_->pid(), SIGKILL), 0);
  auto code = master_->Wait(seconds(15));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 128 + SIGKILL);
  delete master_;
  master_ = nullptr;
  ASSERT_NO_FATAL_FAILURE(StartMaster());

  json after = Admin(protocol::AdminQueryKind::kTvd, "blue");
  ASSERT_TRUE(after.contains("members")) << after.dump();
  EXPECT_EQ(summary(after), summary(before)) << after.dump();
  EXPECT_GE(after["epoch"].get<int>(), before["epoch"].get<int>());
  // The members reconnect to the restarted master, and their VMs still
  // talk once the new epoch's keys are in place.
  EXPECT_TRUE(Eventually([&] {
    json view = Admin(protocol::AdminQueryKind::kTvd, "blue");
    if (!view.contains("members") || view["members"].size() != 2) return false;
    for (const json& m : view["members"]) {
      if (m["connected"] != true) return false;
    }
    return true;
  }));
  EXPECT_TRUE(Eventually([&] { return Reaches(b1, b2, 2); }, seconds(15)))
      << Diagnose();
}

TEST_F(LifecycleTest, BadInputChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(JoinOk(0, "blue"));
  const std::string status_before = hosts_[0]->Status().dump();
  // Raw frames on the factory's control socket.
  auto exchange = [&](const std::string& bytes) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s",
                  hosts_[0]->socket().c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return std::string("connect failed");
    }
    (void)!::write(fd, bytes.data(), bytes.size());
    ::shutdown(fd, SHUT_WR);
    std::string reply;
    char buf[4096];
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
      reply.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return reply.size() > 4 ? reply.substr(4) : reply;
  };
  auto frame = [](const std::string& body) {
    std::string f(4, '\0');
    std::uint32_t n = static_cast<std::uint32_t>(body.size());
    f[0] = static_cast<char>(n >> 24);
    f[1] = static_cast<char>(n >> 16);
    f[2] = static_cast<char>(n >> 8);
    f[3] = static_cast<char>(n);
    return f + body;
  };
  struct Case {
    std::string bytes;
    std::string expect;  // part of the error message
  };
  std::vector<Case> cases = {
      {frame("not json"), "not valid JSON"},
      {frame(R"({"op":"explode","tvd":"blue"})"), "explode"},
      {frame(R"({"op":"leave","tvd":"../blue"})"), "tvd"},
      {frame(R"({"op":"attach","tvd":"blue","vm_config":"rel.xml"})"),
       "vm_config"},
      {frame(R"({"op":"leave","tvd":"blue","extra":1})"), "extra"},
      {std::string("\x7f\xff\xff\xff", 4), ""},  // oversized: refused
  };
  for (const Case& c : cases) {
    std::string reply = exchange(c.bytes);
    if (c.expect.empty()) {
      // Either an error answer or a closed connection; never a result.
      EXPECT_EQ(reply.find("\"ok\":true"), std::string::npos) << reply;
      continue;
    }
    json j = json::parse(reply, nullptr, false);
    ASSERT_TRUE(j.is_object()) << reply;
    EXPECT_EQ(j["ok"], false) << reply;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(c.expect),
              std::string::npos)
        << reply;
  }
  // tvdctl usage errors: exit 2, a message that says what is wrong, nothing
  // sent.
  struct Usage {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Usage> usages = {
      {{"join"}, "tvdctl join: expected"},
      {{"attach", "blue"}, "tvdctl attach: expected"},
      {{"leave", "blue", "extra"}, "tvdctl leave: expected"},
      {{"join", "bad/name"}, "'bad/name' is not a valid TVD name"},
      {{"detach", "blue", "no/vm"}, "'no/vm' is not a valid VM name"},
      {{"status", "--frobnicate"}, "unknown option '--frobnicate'"},
  };
  for (const Usage& u : usages) {
    Cli c = hosts_[0]->Ctl(u.args);
    EXPECT_EQ(c.code, 2) << Join(u.args) << ": " << c.err;
    EXPECT_NE(c.err.find(u.expect), std::string::npos)
        << Join(u.args) << ": " << c.err;
  }
  // An unreachable factory is exit 3.
  Cli c = Tvdctl({"status", "--socket", *dir_ + "/no-such.sock"});
  EXPECT_EQ(c.code, 3) << c.err;
  // Nothing changed; the factory still serves.
  EXPECT_EQ(hosts_[0]->Status().dump(), status_before);
  EXPECT_TRUE(factory_running(0));
  json view = Admin(protocol::AdminQueryKind::kTvd, "blue");
  EXPECT_EQ(view["members"].size(), 1u) << view.dump();
}

// With userspace ESP, charon's route into ipsec0 towards a peer belonged to
// the first SA that installed it, so the first TVD to tear down its tunnel
// to that peer cut the other TVDs' tunnels too. The host network now steers
// each TVD's VXLAN port into ipsec0 itself. red's SA comes up first here,
// then red leaves: blue must keep working.
TEST_F(LifecycleTest, FirstTvdToLeaveKeepsTheOthersTunnelsToThePeer) {
  // red's SA to the peer comes up first (charon's route was red's).
  for (int h : {0, 1}) ASSERT_NO_FATAL_FAILURE(JoinOk(h, "red"));
  ASSERT_TRUE(
      Eventually([] { return AnyWith(hosts_[0]->Sas(), "tvd-red-host2"); }));
  ASSERT_NO_FATAL_FAILURE(BlueOnBothHosts());
  Vm& b1 = VmOf("blue", 0);
  Vm& b2 = VmOf("blue", 1);
  ASSERT_TRUE(Reaches(b1, b2));
  ASSERT_NO_FATAL_FAILURE(LeaveOk(0, "red"));
  EXPECT_TRUE(Reaches(b1, b2)) << Diagnose();
  EXPECT_TRUE(Reaches(b2, b1));
}

// A TVD's quota in total holds across hosts, with every real part on the
// path: a tenant's libvirt client, each host's libvirt relay, the TVD's
// proxy on that host (its usage socket), the master's ledger. A VM started
// on host1 leaves no room for one on host2; destroying it on host1 gives
// the room back once host1's relay has reported.
TEST_F(LifecycleTest, QuotaInTotalHoldsAcrossHostsThroughTheRelays) {
  using libvirt_filter::RelayOptions;
  using libvirt_filter::RelayServer;
  // The relays' own CA and the tenant's certificate (the master's PKI is
  // not involved in the tenant's TLS to a relay).
  auto ca = pki::CreateCa("e2e-relay", pki::Validity::ForDays(2));
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto tenant = pki::IssueCertificate(*ca, pki::Role::kTenant, "green",
                                      pki::Validity::ForDays(2), {});
  ASSERT_TRUE(tenant.ok()) << tenant.status().ToString();
  const std::string tenant_pki = *dir_ + "/pki-green";
  ASSERT_TRUE(
      testing::WriteClientPkiDir(tenant_pki, ca->cert_pem, *tenant).ok());
  auto server =
      pki::IssueCertificate(*ca, pki::Role::kHost, "relay",
                            pki::Validity::ForDays(2), {"IP:127.0.0.1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  // green: both hosts, owned by the tenant, 2 vCPUs in total.
  std::string xml = PolicyXml("green", 3, pcr16_);
  xml.replace(xml.find("CN=green-tenant,O=T"),
              std::string("CN=green-tenant,O=T").size(),
              "CN=green,OU=tenant,O=e2e-relay");
  xml.insert(xml.find("</tvd-policy>"),
             "  <quotas><total vcpus=\"2\"/></quotas>\n");
  auto green = policy::ParseTvdPolicy(xml, "green");
  ASSERT_TRUE(green.ok()) << green.status().ToString();
  auto admin_tls = AdminTls();
  ASSERT_NE(admin_tls, nullptr);
  protocol::AdminClient admin(
      {"127.0.0.1", master_port_, {pki::Role::kHost, "tvd-master"}}, *admin_tls,
      milliseconds(3000));
  ASSERT_TRUE(admin.AddTvd(xml).ok());
  for (int h : {0, 1}) ASSERT_NO_FATAL_FAILURE(JoinOk(h, "green"));

  libvirt_filter::StaticOwnership ownership(
      std::vector<policy::TvdPolicy>{*green}, "/var/lib/tvd");
  libvirt_filter::FileDiskImageChecker disks;
  std::unique_ptr<RelayServer> relays[2];
  virConnectPtr tenant_conns[2] = {nullptr, nullptr};
  for (int h : {0, 1}) {
    RelayOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.upstream_socket = hosts_[h]->libvirtd->socket_path();
    o.upstream_uri = "test:///default";
    o.proxy_run_dir = hosts_[h]->run_dir();
    o.usage_report_interval = seconds(1);
    auto relay = RelayServer::Start(
        o, ownership, disks,
        {ca->cert_pem, server->cert_pem, server->key_pem.Clone()});
    ASSERT_TRUE(relay.ok()) << relay.status().ToString();
    relays[h] = std::move(relay).value();
    tenant_conns[h] = virConnectOpen(
        ("test+tls://127.0.0.1:" + std::to_string(relays[h]->port()) +
         "/default?pkipath=" + tenant_pki)
            .c_str());
    ASSERT_NE(tenant_conns[h], nullptr) << virGetLastErrorMessage();
  }
  auto define = [&](int h, const std::string& name, int vcpus) {
    const std::string d = "<domain type='test'><name>" + name +
                          "</name><memory unit='MiB'>64</memory><vcpu>" +
                          std::to_string(vcpus) +
                          "</vcpu><os><type>hvm</type></os></domain>";
    return virDomainDefineXML(tenant_conns[h], d.c_str());
  };
  virDomainPtr a = define(0, "green-a", 2);
  ASSERT_NE(a, nullptr) << virGetLastErrorMessage();
  virDomainPtr b = define(1, "green-b", 1);
  ASSERT_NE(b, nullptr) << virGetLastErrorMessage();

  ASSERT_EQ(virDomainCreate(a), 0) << virGetLastErrorMessage();
  // host1 holds the whole total: host2's relay is refused by the master.
  EXPECT_EQ(virDomainCreate(b), -1);
  const std::string refusal = virGetLastErrorMessage();
  EXPECT_NE(refusal.find("quota of TVD green exceeded: vcpus in total 2, "
                         "in use 2, this domain asks for 1"),
            std::string::npos)
      << refusal;
  EXPECT_EQ(virDomainIsActive(b), 0);
  json view = Admin(protocol::AdminQueryKind::kTvd, "green");
  EXPECT_EQ(view["quota_in_use"]["vcpus"], 2) << view.dump();

  // Destroying it on host1 frees the room once host1 has reported.
  ASSERT_EQ(virDomainDestroy(a), 0) << virGetLastErrorMessage();
  EXPECT_TRUE(Eventually([&] { return virDomainCreate(b) == 0; }, seconds(10)))
      << virGetLastErrorMessage() << "\n"
      << Admin(protocol::AdminQueryKind::kTvd, "green").dump();
  EXPECT_EQ(
      Admin(protocol::AdminQueryKind::kTvd, "green")["quota_in_use"]["vcpus"],
      1);

  // Clean up: domains, relays, memberships, the TVD.
  EXPECT_EQ(virDomainDestroy(b), 0);
  EXPECT_EQ(virDomainUndefine(a), 0);
  EXPECT_EQ(virDomainUndefine(b), 0);
  virDomainFree(a);
  virDomainFree(b);
  for (int h : {0, 1}) {
    virConnectClose(tenant_conns[h]);
    relays[h]->Stop();
    ASSERT_NO_FATAL_FAILURE(LeaveOk(h, "green"));
  }
  EXPECT_TRUE(admin.RemoveTvd("green").ok());
}

}  // namespace
}  // namespace tvd::e2e

#include "relay_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tvd/testing/free_port.h"
#include "tvd/testing/libvirt_pki.h"

namespace tvd::libvirt_filter::testing {

namespace {

StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError(path + ": cannot read");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A template policy with its owner replaced by the test tenant's subject
// and without a quota in total: these relays run without proxies and a
// master, so a total would refuse every define (fail closed). Totals are
// tested where the whole path runs (LifecycleTest, TotalQuotaGuardTest).
Status WritePolicy(const std::string& dir, const std::string& tvd) {
  TVD_ASSIGN_OR_RETURN(std::string xml,
                       ReadAll(std::string(TVD_SOURCE_DIR) +
                               "/policy-templates/" + tvd + ".xml"));
  if (std::size_t total = xml.find("<total "); total != std::string::npos) {
    xml.erase(total, xml.find("/>", total) + 2 - total);
  }
  std::size_t at = xml.find("<owner subject=\"");
  if (at == std::string::npos) return Internal("template has no owner");
  std::size_t end = xml.find('"', at + 16);
  xml.replace(at + 16, end - (at + 16),
              std::string("CN=") + tvd + ",OU=tenant,O=" + kCaName);
  std::ofstream out(dir + "/" + tvd + ".xml");
  out << xml;
  return out ? Status::Ok() : IoError("cannot write policy");
}

}  // namespace

std::string RelayEnv::LibvirtdTlsUri(const std::string& tenant) const {
  return "test+tls://127.0.0.1:" + std::to_string(libvirtd_tls_port) +
         "/default?pkipath=" + PkiDir(tenant);
}

std::string DomainXml(const std::string& name, const std::string& owner,
                      const std::string& uuid, const std::string& devices,
                      const std::string& extra) {
  std::string xml = "<domain type='test'>\n  <name>" + name + "</name>\n";
  if (!uuid.empty()) xml += "  <uuid>" + uuid + "</uuid>\n";
  xml +=
      "  <memory>8192</memory>\n  <vcpu>1</vcpu>\n"
      "  <os><type>hvm</type></os>\n  <devices>" +
      devices + "</devices>\n";
  if (!owner.empty()) {
    xml += "  <metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='" + owner +
           "'/></metadata>\n";
  }
  xml += extra + "</domain>\n";
  return xml;
}

StatusOr<std::unique_ptr<RelayEnv>> RelayEnv::Start(RelayOptions options,
                                                    bool libvirtd_tls,
                                                    bool qemu) {
  auto env = std::make_unique<RelayEnv>();
  env->qemu = qemu;
  std::string tmpl =
      "/tmp/tvd-relay-test-" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoError("mkdtemp", errno);
  env->dir = tmpl;
  TVD_ASSIGN_OR_RETURN(env->ca,
                       pki::CreateCa(kCaName, pki::Validity::ForDays(2)));
  tvd::testing::LibvirtdInstance::Options libvirtd_options;
  libvirtd_options.qemu = qemu;
  if (qemu) {
    env->storage_root = env->dir + "/storage";
    for (const char* tvd : {"blue", "red"}) {
      std::error_code ec;
      std::filesystem::create_directories(env->Storage(tvd), ec);
      if (ec) return IoError(env->Storage(tvd) + ": " + ec.message());
    }
  }
  if (libvirtd_tls) {
    TVD_ASSIGN_OR_RETURN(
        pki::KeyAndCertificate cert,
        pki::IssueCertificate(env->ca, pki::Role::kHost, "libvirtd",
                              pki::Validity::ForDays(7), {"IP:127.0.0.1"}));
    libvirtd_options.tls_ca_file =
        env->WriteFile("libvirtd-ca.pem", env->ca.cert_pem);
    libvirtd_options.tls_cert_file =
        env->WriteFile("libvirtd-cert.pem", cert.cert_pem);
    libvirtd_options.tls_key_file = env->WriteFile(
        "libvirtd-key.pem",
        std::string(reinterpret_cast<const char*>(cert.key_pem.data()),
                    cert.key_pem.size()));
    TVD_ASSIGN_OR_RETURN(env->libvirtd_tls_port,
                         ::tvd::testing::FreeLoopbackPort());
    libvirtd_options.tls_port = env->libvirtd_tls_port;
  }
  TVD_ASSIGN_OR_RETURN(env->libvirtd,
                       tvd::testing::LibvirtdInstance::Start(libvirtd_options));
  for (const char* tenant : {"blue", "red", "green"}) {
    TVD_ASSIGN_OR_RETURN(
        pki::KeyAndCertificate cert,
        pki::IssueCertificate(env->ca, pki::Role::kTenant, tenant,
                              pki::Validity::ForDays(7), {}));
    TVD_RETURN_IF_ERROR(tvd::testing::WriteClientPkiDir(
        env->PkiDir(tenant), env->ca.cert_pem, cert));
  }
  std::string policies = env->dir + "/policies";
  std::filesystem::create_directories(policies);
  TVD_RETURN_IF_ERROR(WritePolicy(policies, "blue"));
  TVD_RETURN_IF_ERROR(WritePolicy(policies, "red"));
  TVD_ASSIGN_OR_RETURN(env->ownership,
                       LoadPolicyDirectory(policies, env->storage_root));

  TVD_ASSIGN_OR_RETURN(
      pki::KeyAndCertificate server,
      pki::IssueCertificate(env->ca, pki::Role::kHost, "relay",
                            pki::Validity::ForDays(7),
                            {"IP:127.0.0.1", "DNS:localhost"}));
  channel::TlsCredentials creds{env->ca.cert_pem, server.cert_pem,
                                server.key_pem.Clone()};
  options.listen_address = "127.0.0.1";
  options.port = 0;
  options.upstream_socket = env->libvirtd->socket_path();
  options.upstream_uri = qemu ? "qemu:///system" : "test:///default";
  TVD_ASSIGN_OR_RETURN(env->relay, RelayServer::Start(options, *env->ownership,
                                                      env->disks, creds));
  return env;
}

RelayEnv::~RelayEnv() {
  if (relay) relay->Stop();
  relay.reset();
  libvirtd.reset();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

std::string RelayEnv::TenantUri(const std::string& tenant) const {
  return (qemu ? "qemu+tls://127.0.0.1:" : "test+tls://127.0.0.1:") +
         std::to_string(relay->port()) +
         (qemu ? "/system?pkipath=" : "/default?pkipath=") + PkiDir(tenant);
}

std::string RelayEnv::AdminUri() const {
  return libvirtd->ClientUri(qemu ? "qemu:///system" : "test:///default");
}

CommandResult RelayEnv::Virsh(const std::string& uri,
                              const std::vector<std::string>& args) const {
  ProcessOptions o;
  o.argv = {"virsh", "-q", "-c", uri};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = {"LC_ALL=C"};
  StatusOr<CommandResult> r = RunCommand(o, std::chrono::seconds(30));
  if (!r.ok()) return CommandResult{-1, "", r.status().ToString()};
  return *r;
}

std::string RelayEnv::WriteFile(const std::string& name,
                                const std::string& content) const {
  std::string path = dir + "/" + name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace tvd::libvirt_filter::testing

#include "master_process.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tvd/testing/files.h"
#include "tvd/testing/master_config.h"

namespace tvd::bench {

using testing::WriteFileWithMode;

namespace {

// The fields of /proc/<pid>/stat after the command name (field 2, which
// may hold spaces): [0] is state (field 3), [7] minflt (10), [11] utime
// (14), [12] stime (15).
StatusOr<std::vector<std::string>> StatFields(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return IoError("cannot read " + path);
  auto close = line.rfind(')');
  if (close == std::string::npos) return IoError("unexpected " + path);
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> f;
  std::string word;
  while (fields >> word) f.push_back(word);
  if (f.size() < 13) return IoError("unexpected " + path);
  return f;
}

}  // namespace

StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> f, StatFields(pid));
  double ticks = std::stod(f[11]) + std::stod(f[12]);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

StatusOr<long> ProcessMinorFaults(pid_t pid) {
  TVD_ASSIGN_OR_RETURN(std::vector<std::string> f, StatFields(pid));
  return std::stol(f[7]);
}

StatusOr<std::unique_ptr<MasterProcess>> MasterProcess::Start(
    const MasterSetup& setup, const pki::KeyAndCertificate& ca) {
  std::unique_ptr<MasterProcess> m(new MasterProcess);
  std::string tmpl =
      "/tmp/tvd-bench-master-" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoError("cannot create the master's directory", errno);
  }
  m->dir_ = tmpl;
  const std::string& d = m->dir_;
  std::filesystem::create_directory(d + "/policies");
  TVD_ASSIGN_OR_RETURN(auto cert,
                       pki::IssueCertificate(ca, pki::Role::kHost, "tvd-master",
                                             pki::Validity::ForDays(1)));
  TVD_RETURN_IF_ERROR(WriteFileWithMode(d + "/ca.pem", ca.cert_pem, 0644));
  TVD_RETURN_IF_ERROR(
      WriteFileWithMode(d + "/master.pem", cert.cert_pem, 0644));
  auto key = cert.key_pem.view();
  TVD_RETURN_IF_ERROR(WriteFileWithMode(
      d + "/master.key",
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
      0600));
  SecureBytes kek = setup.kek ? setup.kek->Clone() : SecureBytes::Random(32);
  TVD_RETURN_IF_ERROR(WriteFileWithMode(
      d + "/master.kek",
      std::string_view(reinterpret_cast<const char*>(kek.view().data()),
                       kek.size()),
      0600));
  std::string eks = "# host  sha256(EK public area)\n";
  for (const auto& [host, digest] : setup.trusted_eks) {
    eks += host + " " + ToHex(digest) + "\n";
  }
  TVD_RETURN_IF_ERROR(WriteFileWithMode(d + "/eks.txt", eks, 0644));
  testing::MasterConfigFile config =
      testing::MasterConfigFile::InDir(d, setup.port);
  config.listen_address = setup.listen_address;
  config.max_connections = setup.max_connections;
  config.lock_takeover_ms = setup.lock_takeover_ms;
  config.eviction_grace_ms = setup.eviction_grace_ms;
  if (!setup.store.empty()) {
    config.store = setup.store;
    config.state_db.clear();
  }
  TVD_RETURN_IF_ERROR(
      WriteFileWithMode(d + "/master.conf", config.Text(), 0644));
  ProcessOptions o;
  o.argv = {setup.binary, "--config", d + "/master.conf"};
  o.netns = setup.netns;
  o.stderr_path = d + "/stderr.log";
  o.stdout_path = d + "/stdout.log";
  TVD_ASSIGN_OR_RETURN(m->process_, ChildProcess::Start(o));
  return m;
}

MasterProcess::~MasterProcess() {
  (void)Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

StatusOr<double> MasterProcess::CpuSeconds() const {
  return ProcessCpuSeconds(process_.pid());
}

StatusOr<int> MasterProcess::Stop() {
  return process_.Stop(std::chrono::seconds(10));
}

std::string MasterProcess::Log() const {
  std::ifstream in(dir_ + "/stderr.log");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tvd::bench

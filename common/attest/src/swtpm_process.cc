#include "tvd/attest/swtpm_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace tvd::attest {
namespace {

int LoopbackSocket(std::uint16_t port, sockaddr_in& addr) {
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

bool PortFree(std::uint16_t port) {
  sockaddr_in addr;
  int fd = LoopbackSocket(port, addr);
  if (fd < 0) return false;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool Accepts(std::uint16_t port) {
  sockaddr_in addr;
  int fd = LoopbackSocket(port, addr);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Two free consecutive ports in the unprivileged range below the kernel's
// ephemeral range, random so that parallel processes spread out.
std::uint16_t PickPorts(std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(20000, 31000);
  for (int i = 0; i < 200; ++i) {
    auto port = static_cast<std::uint16_t>(dist(rng) & ~1);
    if (PortFree(port) && PortFree(port + 1)) return port;
  }
  return 0;
}

std::string Tail(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text.size() > 500 ? text.substr(text.size() - 500) : text;
}

}  // namespace

StatusOr<SwtpmProcess> SwtpmProcess::Start(const SwtpmProcessOptions& o) {
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(
          std::chrono::steady_clock::now().time_since_epoch().count()));
  Status last = Unavailable("no free port pair for swtpm");
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::uint16_t port = PickPorts(rng);
    if (port == 0) break;
    ProcessOptions p;
    p.argv = {
        "swtpm",
        "socket",
        "--tpm2",
        "--server",
        "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1",
        "--ctrl",
        "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1",
        "--flags",
        "not-need-init,startup-clear",
        "--tpmstate",
        "dir=" + o.state_dir};
    int stdin_fd = -1;
    if (o.passphrase != nullptr) {
      TVD_ASSIGN_OR_RETURN(
          stdin_fd, PipeHolding(o.passphrase->view(), "the vTPM passphrase"));
      p.argv.push_back("--key");
      p.argv.push_back("pwdfd=0,mode=aes-256-cbc");
    }
    p.stdin_fd = stdin_fd;
    p.stdout_path = o.stdout_path;
    p.stderr_path = o.stderr_path;
    auto child = ChildProcess::Start(p);
    if (stdin_fd >= 0) ::close(stdin_fd);
    if (!child.ok()) return child.status();
    SwtpmProcess s;
    s.process_ = std::move(*child);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           s.process_.Running() && !Accepts(port)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (s.process_.Running() && Accepts(port)) {
      s.port_ = port;
      return s;
    }
    (void)s.process_.Stop(std::chrono::seconds(1));
    std::string why = Tail(o.stderr_path);
    if (why.empty() && s.process_.exit_status()) {
      why = "exit status " + std::to_string(*s.process_.exit_status());
    }
    last = Unavailable("swtpm did not come up on port " + std::to_string(port) +
                       (why.empty() ? "" : ": " + why));
  }
  return last;
}

std::string SwtpmProcess::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

Status SwtpmProcess::Stop(std::chrono::milliseconds grace) {
  return process_.Stop(grace).status();
}

}  // namespace tvd::attest

// CPU cost of one trusted-channel handshake (channel::Connection::Handshake
// on both sides of a socketpair, each side in its own thread, the
// project's TlsContext with an EC P-256 CA, host and master certificates),
// with and without OpenSSL's automatic chain building, in the same run.
//
// Without SSL_MODE_NO_AUTO_CHAIN, OpenSSL builds each side's chain from the
// context's trust store at every handshake: it verifies the side's own
// certificate (one ECDSA verification) and sends the CA certificate along,
// which the peer then parses (OpenSSL 3.0's decoders for its public key)
// and can do nothing with: the peer trusts only the CA in its own store,
// and the verify depth allows leaf -> CA only.
//
// The modes alternate in blocks so drift in the machine's speed falls on
// both. Figures: median over --rounds blocks of --handshakes handshakes,
// CPU time of each side's thread per handshake, and the size of the
// Certificate message each side sent.
//
// Run: bench_tls_handshake [--handshakes N] [--rounds R]
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tvd/bench/cpu_time.h"
#include "tvd/bench/must.h"
#include "tvd/channel/connection.h"
#include "tvd/channel/tls_context.h"
#include "tvd/pki/certificate_authority.h"

namespace tvd::channel {
namespace {

using bench::Die;
using bench::Must;

using bench::ThreadCpuMicros;

// The length of the last Certificate handshake message a context's
// connections sent (msg callback; handshake type 11).
std::atomic<std::size_t> client_cert_bytes{0};
std::atomic<std::size_t> server_cert_bytes{0};

void OnMessage(int write_p, int /*version*/, int content_type, const void* buf,
               std::size_t len, SSL* ssl, void* /*arg*/) {
  if (!write_p || content_type != SSL3_RT_HANDSHAKE || len < 1) return;
  if (static_cast<const unsigned char*>(buf)[0] != SSL3_MT_CERTIFICATE) return;
  (SSL_is_server(ssl) ? server_cert_bytes : client_cert_bytes) = len;
}

struct Block {
  double client_us = 0;  // per handshake
  double server_us = 0;
};

Block RunBlock(const TlsContext& server, const TlsContext& client, int n) {
  double server_total = 0;
  double client_total = 0;
  std::vector<std::pair<int, int>> pairs(n);
  for (auto& p : pairs) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
      Die("socketpair", Internal("socketpair failed"));
    }
    p = {fds[0], fds[1]};
  }
  std::thread server_thread([&] {
    double c0 = ThreadCpuMicros();
    for (auto& p : pairs) {
      auto conn = Connection::Handshake(p.first, server.get(), true,
                                        std::chrono::seconds(10), 1 << 16);
      if (!conn.ok()) Die("server handshake", conn.status());
    }
    server_total = ThreadCpuMicros() - c0;
  });
  double c0 = ThreadCpuMicros();
  std::vector<std::unique_ptr<Connection>> kept;
  for (auto& p : pairs) {
    // Kept open until the server is done, so the server's side never sees
    // a closed peer in the middle of its handshake.
    kept.push_back(
        Must(Connection::Handshake(p.second, client.get(), false,
                                   std::chrono::seconds(10), 1 << 16),
             "client handshake"));
  }
  client_total = ThreadCpuMicros() - c0;
  server_thread.join();
  return {client_total / n, server_total / n};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int handshakes = 200;
  int rounds = 9;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--handshakes" || a == "--rounds") && i + 1 < argc) {
      int v = std::atoi(argv[++i]);
      if (v <= 0) Die(a, InvalidArgument("not a positive count"));
      (a == "--handshakes" ? handshakes : rounds) = v;
    } else {
      std::fprintf(
          stderr, "usage: bench_tls_handshake [--handshakes N] [--rounds R]\n");
      return 2;
    }
  }
  // The client side closes after the server side: its close_notify meets a
  // closed socket.
  ::signal(SIGPIPE, SIG_IGN);
  auto ca = Must(pki::CreateCa("bench-ca", pki::Validity::ForDays(1)), "CA");
  auto master_cert = Must(pki::IssueCertificate(ca, pki::Role::kHost, "master",
                                                pki::Validity::ForDays(1)),
                          "master certificate");
  auto host_cert = Must(pki::IssueCertificate(ca, pki::Role::kHost, "host1",
                                              pki::Validity::ForDays(1)),
                        "host certificate");
  auto server = Must(
      TlsContext::Create(TlsSide::kServer, {ca.cert_pem, master_cert.cert_pem,
                                            master_cert.key_pem.Clone()}),
      "server context");
  auto client = Must(
      TlsContext::Create(TlsSide::kClient, {ca.cert_pem, host_cert.cert_pem,
                                            host_cert.key_pem.Clone()}),
      "client context");
  SSL_CTX_set_msg_callback(server->get(), OnMessage);
  SSL_CTX_set_msg_callback(client->get(), OnMessage);

  // What TlsContext does, and the other mode, set on both contexts.
  const bool project_mode =
      (SSL_CTX_get_mode(server->get()) & SSL_MODE_NO_AUTO_CHAIN) != 0;
  auto set_auto_chain = [&](bool on) {
    for (SSL_CTX* c : {server->get(), client->get()}) {
      if (on) {
        SSL_CTX_clear_mode(c, SSL_MODE_NO_AUTO_CHAIN);
      } else {
        SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN);
      }
    }
  };

  RunBlock(*server, *client, 20);  // warm-up: OpenSSL's lazy loading
  std::vector<double> client_us[2], server_us[2];
  std::size_t client_bytes[2] = {0, 0}, server_bytes[2] = {0, 0};
  for (int r = 0; r < rounds; ++r) {
    for (int mode = 0; mode < 2; ++mode) {  // 0: leaf only, 1: auto chain
      set_auto_chain(mode == 1);
      Block b = RunBlock(*server, *client, handshakes);
      client_us[mode].push_back(b.client_us);
      server_us[mode].push_back(b.server_us);
      client_bytes[mode] = client_cert_bytes;
      server_bytes[mode] = server_cert_bytes;
    }
  }
  std::printf(
      "TLS 1.3 handshake, EC P-256 certificates, both sides in one process "
      "(%d rounds of %d; median per handshake, thread CPU)\n"
      "TlsContext as built: %s\n\n",
      rounds, handshakes,
      project_mode ? "sends its certificate alone (SSL_MODE_NO_AUTO_CHAIN)"
                   : "builds the chain from its trust store");
  std::printf("%-34s %12s %12s %8s %8s\n", "", "server us", "client us",
              "srv cert", "cli cert");
  const char* names[2] = {"certificate alone", "chain built (CA cert sent)"};
  for (int mode = 0; mode < 2; ++mode) {
    std::printf("%-34s %12.1f %12.1f %7zuB %7zuB\n", names[mode],
                Median(server_us[mode]), Median(client_us[mode]),
                server_bytes[mode], client_bytes[mode]);
  }
  std::printf("%-34s %12.2f %12.2f\n", "alone / chain built",
              Median(server_us[0]) / Median(server_us[1]),
              Median(client_us[0]) / Median(client_us[1]));
  return 0;
}

}  // namespace
}  // namespace tvd::channel

int main(int argc, char** argv) { return tvd::channel::Main(argc, argv); }

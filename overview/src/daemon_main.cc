#include "tvd/overview/daemon_main.h"

#include <signal.h>

#include <charconv>
#include <iostream>
#include <map>

#include "tvd/atomic_file.h"
#include "tvd/log.h"
#include "tvd/overview/http_server.h"
#include "tvd/overview/overview_site.h"
#include "tvd/overview/sources.h"
#include "tvd/pki/identity.h"
#include "tvd/rm/curve_keys.h"

namespace tvd::overview {

namespace {

constexpr char kUsage[] =
    "usage: tvd-overview --master ADDRESS:PORT [--master-name NAME] --ca PEM\n"
    "                    --cert PEM --key PEM --rm-server ENDPOINT\n"
    "                    --rm-server-key FILE --rm-key PREFIX\n"
    "                    [--listen ADDRESS:PORT] [--allow-non-loopback]\n"
    "                    [--allowed-host NAME]... [--refresh-seconds N]\n"
    "                    [--cache-ms N] [--timeout-ms N] [--port-file PATH]\n";

// "ADDRESS:PORT" or "[V6]:PORT"; port 0 allowed (any free port).
StatusOr<std::pair<std::string, std::uint16_t>> SplitAddress(
    const std::string& text, bool allow_port_zero) {
  std::string host;
  std::string port_text;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string::npos) {
      return InvalidArgument("'" + text + "' is not ADDRESS:PORT");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return InvalidArgument("'" + text +
                             "' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (host.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65535 ||
      (port == 0 && !allow_port_zero)) {
    return InvalidArgument("'" + text + "' does not end in a valid port");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

StatusOr<long> PositiveOrZero(const std::string& flag, const std::string& v) {
  long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return InvalidArgument(flag + ": expected a non-negative integer, got '" +
                           v + "'");
  }
  return n;
}

}  // namespace

int RunOverviewDaemon(const std::vector<std::string>& args) {
  log::SetComponent("tvd-overview");
  std::map<std::string, std::string> opt{{"--listen", "127.0.0.1:8480"},
                                         {"--master-name", "tvd-master"},
                                         {"--refresh-seconds", "5"},
                                         {"--cache-ms", "1000"},
                                         {"--timeout-ms", "3000"}};
  const std::vector<std::string> valued = {
      "--listen",   "--master",   "--master-name",     "--ca",
      "--cert",     "--key",      "--rm-server",       "--rm-server-key",
      "--rm-key",   "--cache-ms", "--refresh-seconds", "--timeout-ms",
      "--port-file"};
  HttpServerOptions http;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--allow-non-loopback") {
      http.allow_non_loopback = true;
      continue;
    }
    const bool known =
        a == "--allowed-host" ||
        std::find(valued.begin(), valued.end(), a) != valued.end();
    if (!known) {
      std::cerr << "tvd-overview: unknown option '" << a << "'\n" << kUsage;
      return 2;
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      std::cerr << "tvd-overview: " << a << " needs a value\n";
      return 2;
    }
    if (a == "--allowed-host") {
      http.allowed_hosts.push_back(args[++i]);
    } else {
      opt[a] = args[++i];
    }
  }
  for (const char* required : {"--master", "--ca", "--cert", "--key",
                               "--rm-server", "--rm-server-key", "--rm-key"}) {
    if (!opt.count(required)) {
      std::cerr << "tvd-overview: " << required << " is required\n" << kUsage;
      return 2;
    }
  }
  auto listen = SplitAddress(opt["--listen"], /*allow_port_zero=*/true);
  auto master = SplitAddress(opt["--master"], /*allow_port_zero=*/false);
  auto refresh = PositiveOrZero("--refresh-seconds", opt["--refresh-seconds"]);
  auto cache_ms = PositiveOrZero("--cache-ms", opt["--cache-ms"]);
  auto timeout_ms = PositiveOrZero("--timeout-ms", opt["--timeout-ms"]);
  for (const Status& s : {listen.status(), master.status(), refresh.status(),
                          cache_ms.status(), timeout_ms.status()}) {
    if (!s.ok()) {
      std::cerr << "tvd-overview: " << s.message() << "\n";
      return 2;
    }
  }
  if (!pki::IsValidName(opt["--master-name"])) {
    std::cerr << "tvd-overview: --master-name '" << opt["--master-name"]
              << "' is not a valid certificate name\n";
    return 2;
  }

  auto tls = LoadAdminTls(opt["--ca"], opt["--cert"], opt["--key"]);
  if (!tls.ok()) {
    log::Error("admin credentials: ", tls.status().ToString());
    return 1;
  }
  auto server_key = rm::LoadPublicKeyFile(opt["--rm-server-key"]);
  if (!server_key.ok()) {
    log::Error("rm-server key: ", server_key.status().ToString());
    return 1;
  }
  auto rm_keys = rm::LoadKeyPair(opt["--rm-key"]);
  if (!rm_keys.ok()) {
    log::Error("rm admin key: ", rm_keys.status().ToString());
    return 1;
  }
  const std::chrono::milliseconds timeout(*timeout_ms);
  CachedOverview cache(
      std::make_unique<AdminMasterSource>(
          protocol::MasterEndpoint{master->first,
                                   master->second,
                                   {pki::Role::kHost, opt["--master-name"]}},
          std::move(tls).value(), timeout),
      std::make_unique<RmSnapshotSource>(opt["--rm-server"], *server_key,
                                         std::move(rm_keys).value(), timeout),
      std::chrono::milliseconds(*cache_ms));
  OverviewSite site([&cache] { return cache.Get(); },
                    static_cast<int>(*refresh));

  // Signals are taken by sigwait below only; block them before any thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  http.address = listen->first;
  http.port = listen->second;
  auto server = HttpServer::Start(
      http, [&site](const HttpRequest& r) { return site.Handle(r); });
  if (!server.ok()) {
    log::Error("cannot serve: ", server.status().ToString());
    return 1;
  }
  log::Info("serving the VDC overview on http://",
            http.address.find(':') != std::string::npos
                ? "[" + http.address + "]"
                : http.address,
            ":", (*server)->port(), "/");
  if (opt.count("--port-file")) {
    // Whoever waits for this file would otherwise wait forever: fail.
    if (Status s = WriteFileAtomically(
            opt["--port-file"], std::to_string((*server)->port()) + "\n");
        !s.ok()) {
      log::Error("--port-file: ", s.ToString());
      (*server)->Stop();
      return 1;
    }
  }
  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("stopping on signal ", sig);
  (*server)->Stop();
  return 0;
}

}  // namespace tvd::overview

#include "tvd/overview/overview_daemon.h"

#include "tvd/daemon/endpoint_list.h"
#include "tvd/log.h"
#include "tvd/overview/http_server.h"
#include "tvd/overview/overview_site.h"
#include "tvd/overview/sources.h"
#include "tvd/pki/identity.h"
#include "tvd/rm/curve_keys.h"

namespace tvd::overview {

namespace {

// Owns what the serving threads use: destroyed after the server stopped.
class OverviewDaemon : public daemon::Daemon {
 public:
  OverviewDaemon(std::unique_ptr<CachedOverview> cache,
                 std::unique_ptr<OverviewSite> site)
      : cache_(std::move(cache)), site_(std::move(site)) {}
  ~OverviewDaemon() override { Stop(); }

  Status Serve(HttpServerOptions options) {
    TVD_ASSIGN_OR_RETURN(
        server_, HttpServer::Start(options, [this](const HttpRequest& r) {
          return site_->Handle(r);
        }));
    return Status::Ok();
  }
  std::uint16_t port() const override { return server_->port(); }
  void Stop() override {
    if (server_ != nullptr) server_->Stop();
  }

 private:
  std::unique_ptr<CachedOverview> cache_;
  std::unique_ptr<OverviewSite> site_;
  std::unique_ptr<HttpServer> server_;
};

Status WithWhat(const Status& s, const std::string& what) {
  return Status(s.code(), what + ": " + s.message());
}

}  // namespace

StatusOr<daemon::DaemonPtr> StartOverviewDaemon(const OverviewFlags& flags) {
  auto tls = LoadAdminTls(flags.ca, flags.cert, flags.key);
  if (!tls.ok()) return WithWhat(tls.status(), "admin credentials");
  auto server_key = rm::LoadPublicKeyFile(flags.rm_server_key);
  if (!server_key.ok()) return WithWhat(server_key.status(), "rm-server key");
  auto rm_keys = rm::LoadKeyPair(flags.rm_key);
  if (!rm_keys.ok()) return WithWhat(rm_keys.status(), "rm admin key");
  auto cache = std::make_unique<CachedOverview>(
      std::make_unique<AdminMasterSource>(flags.masters, flags.master_name,
                                          std::move(tls).value(),
                                          flags.timeout),
      std::make_unique<RmSnapshotSource>(flags.rm_server, *server_key,
                                         std::move(rm_keys).value(),
                                         flags.timeout),
      flags.cache);
  CachedOverview* c = cache.get();
  auto site = std::make_unique<OverviewSite>([c] { return c->Get(); },
                                             flags.refresh_seconds);
  auto d = std::make_unique<OverviewDaemon>(std::move(cache), std::move(site));
  HttpServerOptions http;
  http.address = flags.listen.address;
  http.port = flags.listen.port;
  http.allow_non_loopback = flags.allow_non_loopback;
  http.allowed_hosts = flags.allowed_hosts;
  if (Status s = d->Serve(http); !s.ok()) return WithWhat(s, "cannot serve");
  log::Info("serving the VDC overview on http://",
            daemon::Endpoint{flags.listen.address, d->port()}.ToString(), "/");
  return daemon::DaemonPtr(std::move(d));
}

daemon::DaemonSpec<OverviewFlags> OverviewDaemonSpec() {
  using std::chrono::milliseconds;
  daemon::DaemonSpec<OverviewFlags> spec;
  spec.name = "tvd-overview";
  spec.summary =
      "Serves the admin's overview of the VDC (the master's admin view and "
      "rm-server's snapshot) over HTTP.";
  spec.listens = true;
  spec.declare = [](daemon::FlagSet& flags, OverviewFlags& o) {
    flags
        .Custom(
            "master", "ADDRESS:PORT[,...]",
            [&o](std::string_view v) -> Status {
              TVD_ASSIGN_OR_RETURN(o.masters, daemon::ParseEndpointList(v));
              return Status::Ok();
            },
            "the master's admin endpoint, or its replicas in the order to "
            "try them (at most 16)")
        .Required();
    flags
        .Custom(
            "master-name", "NAME",
            [&o](std::string_view v) -> Status {
              if (!pki::IsValidName(v)) {
                return InvalidArgument("'" + std::string(v) +
                                       "' is not a valid certificate name");
              }
              o.master_name = std::string(v);
              return Status::Ok();
            },
            "the name in the master's certificate")
        .Default("tvd-master");
    flags.Path("ca", &o.ca, "the VDC CA (PEM)").Required();
    flags.Path("cert", &o.cert, "the admin certificate (PEM)").Required();
    flags.Path("key", &o.key, "the admin private key (PEM)").Required();
    flags.String("rm-server", &o.rm_server, "rm-server's query endpoint")
        .Required();
    flags.Path("rm-server-key", &o.rm_server_key, "rm-server's public key")
        .Required();
    flags.Path("rm-key", &o.rm_key, "the admin's rm key pair (PREFIX)")
        .Required();
    flags
        .Endpoint("listen", &o.listen, {.allow_port_zero = true},
                  "where to serve (port 0: any free port)")
        .Default("127.0.0.1:8480");
    flags.Bool("allow-non-loopback", &o.allow_non_loopback,
               "serve on an address other machines reach");
    flags.Repeated("allowed-host", &o.allowed_hosts,
                   "a Host header accepted besides the loopback names");
    flags
        .Integer("refresh-seconds", &o.refresh_seconds, 0, 86400,
                 "how often the page reloads itself (0: never)")
        .Default("5");
    flags
        .Duration("cache-ms", &o.cache, daemon::DurationUnit::kMilliseconds,
                  milliseconds(0), milliseconds(86400000),
                  "how long a snapshot is reused (bare number: ms)")
        .Default("1000");
    flags
        .Duration("timeout-ms", &o.timeout, daemon::DurationUnit::kMilliseconds,
                  milliseconds(0), milliseconds(86400000),
                  "per source query (bare number: ms)")
        .Default("3000");
  };
  spec.start = [](OverviewFlags& o) { return StartOverviewDaemon(o); };
  return spec;
}

}  // namespace tvd::overview

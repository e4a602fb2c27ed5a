#include "tvd/libvirt_filter/relay_config.h"

#include <openssl/crypto.h>

#include <functional>

#include "tvd/pki/private_file.h"

namespace tvd::libvirt_filter {

namespace {

using std::chrono::milliseconds;

// Empty (none) or an absolute path.
std::function<Status(std::string_view)> EmptyOrAbsolute(std::string* out) {
  return [out](std::string_view v) -> Status {
    if (!v.empty() && v.front() != '/') {
      return InvalidArgument("'" + std::string(v) + "' is not absolute");
    }
    *out = std::string(v);
    return Status::Ok();
  };
}

}  // namespace

void DeclareRelayFlags(daemon::FlagSet& flags, RelayConfig& c) {
  c.options.proxy_run_dir = "/run/tvd/proxies";
  flags.ConfigFile("config", "a file of these settings, as key = value");
  flags
      .Custom(
          "listen", "ADDRESS:PORT",
          [&c](std::string_view v) -> Status {
            TVD_ASSIGN_OR_RETURN(
                daemon::Endpoint e,
                daemon::ParseEndpoint(v, {.allow_port_zero = true}));
            c.options.listen_address = e.address;
            c.options.port = e.port;
            return Status::Ok();
          },
          "where tenants connect (port 0: any free port)")
      .Default("127.0.0.1:16514");
  flags.Path("ca-cert", &c.ca_cert_path, "the VDC CA (PEM)").Required();
  flags.Path("cert", &c.cert_path, "the relay's certificate (PEM)").Required();
  flags.Path("key", &c.key_path, "the relay's private key (PEM)").Required();
  flags
      .Path("upstream-socket", &c.options.upstream_socket,
            "libvirtd's read-write UNIX socket")
      .Default(c.options.upstream_socket);
  flags
      .String("upstream-uri", &c.options.upstream_uri,
              "the URI every tenant connection opens")
      .Default(c.options.upstream_uri);
  flags.Path("policy-dir", &c.policy_dir, "the TVD policies (*.xml)")
      .Required();
  flags
      .Path("storage-root", &c.storage_root,
            "tenants' disks lie under STORAGE-ROOT/<tvd>/", /*absolute=*/true)
      .Default(c.storage_root);
  flags
      .Custom("emulator", "PATH", EmptyOrAbsolute(&c.host.emulator),
              "the only emulator a tenant's domain may name (empty: "
              "libvirt's choice)")
      .Default(c.host.emulator);
  flags
      .Custom(
          "graphics", "none|vnc|spice",
          [&c](std::string_view v) -> Status {
            TVD_ASSIGN_OR_RETURN(c.host.graphics, ParseGraphicsPolicy(v));
            return Status::Ok();
          },
          "the console tenants' domains may have")
      .Default("none");
  for (auto [name, field] :
       {std::pair{"frame-timeout-ms", &c.options.frame_timeout},
        std::pair{"write-timeout-ms", &c.options.write_timeout},
        std::pair{"handshake-timeout-ms", &c.options.handshake_timeout}}) {
    flags
        .Duration(name, field, daemon::DurationUnit::kMilliseconds,
                  milliseconds(1), milliseconds(3600000),
                  "a timeout of tenant connections")
        .Default("10000");
  }
  flags
      .Custom("proxy-run-dir", "DIR", EmptyOrAbsolute(&c.options.proxy_run_dir),
              "where each TVD's proxy takes quota claims (empty: none)")
      .Default(c.options.proxy_run_dir);
  flags
      .Custom(
          "usage-report-interval-s", "DURATION",
          [&c](std::string_view v) -> Status {
            TVD_ASSIGN_OR_RETURN(
                milliseconds d, daemon::ParseDuration(
                                    v, daemon::DurationUnit::kSeconds,
                                    milliseconds(1000), milliseconds(3600000)));
            c.options.usage_report_interval = d;
            return Status::Ok();
          },
          "how often each TVD's usage is reported (bare number: s)")
      .Default("30");
  TenantLimitOptions& l = c.options.tenant_limits;
  flags
      .Integer<std::size_t>("tenant-max-connections", &l.max_connections, 0,
                            4096, "relay connections per TVD (0: no limit)")
      .Default("8");
  flags
      .Custom(
          "tenant-calls-per-second", "N",
          [&l](std::string_view v) -> Status {
            TVD_ASSIGN_OR_RETURN(std::int64_t n,
                                 daemon::ParseInteger(v, 0, 1000000));
            l.calls_per_second = static_cast<double>(n);
            return Status::Ok();
          },
          "calls per second per TVD (0: no limit)")
      .Default("200");
  flags
      .Custom(
          "tenant-call-burst", "N",
          [&l](std::string_view v) -> Status {
            TVD_ASSIGN_OR_RETURN(std::int64_t n,
                                 daemon::ParseInteger(v, 1, 1000000));
            l.burst = static_cast<double>(n);
            return Status::Ok();
          },
          "calls a TVD may make at once above its rate")
      .Default("400");
  flags
      .Integer<std::size_t>("tenant-max-in-flight", &l.max_in_flight, 0, 1024,
                            "a TVD's calls at libvirtd at once (0: no limit)")
      .Default("4");
}

StatusOr<RelayConfig> ParseRelayConfig(const std::vector<std::string>& args) {
  RelayConfig c;
  daemon::FlagSet flags("libvirt-filter");
  DeclareRelayFlags(flags, c);
  TVD_ASSIGN_OR_RETURN(daemon::ParseOutcome outcome, flags.Parse(args));
  if (outcome == daemon::ParseOutcome::kHelp) {
    return InvalidArgument("--help asks for the usage");
  }
  return c;
}

StatusOr<channel::TlsCredentials> LoadCredentials(const RelayConfig& config) {
  channel::TlsCredentials creds;
  TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem,
                       pki::ReadSmallFile(config.ca_cert_path));
  TVD_ASSIGN_OR_RETURN(creds.cert_pem, pki::ReadSmallFile(config.cert_path));
  TVD_ASSIGN_OR_RETURN(std::string key, pki::ReadSmallFile(config.key_path));
  creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  // Wipe the temporary copy of the key.
  OPENSSL_cleanse(key.data(), key.size());
  return creds;
}

}  // namespace tvd::libvirt_filter

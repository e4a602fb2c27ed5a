#include "tvd/libvirt_filter/relay_config.h"

#include <openssl/crypto.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "tvd/pki/private_file.h"
#include "tvd/text.h"

namespace tvd::libvirt_filter {

namespace {

StatusOr<long> ParseNumber(const std::string& v, long min, long max) {
  long n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
    return InvalidArgument("'" + v + "' is not a number in " +
                           std::to_string(min) + ".." + std::to_string(max));
  }
  return n;
}

Status Apply(RelayConfig& c, const std::string& key, const std::string& v) {
  if (key == "listen") {
    std::size_t colon = v.rfind(':');
    if (colon == std::string::npos) {
      return InvalidArgument("listen: expected ADDRESS:PORT, got '" + v + "'");
    }
    TVD_ASSIGN_OR_RETURN(long port, ParseNumber(v.substr(colon + 1), 0, 65535));
    c.options.listen_address = v.substr(0, colon);
    c.options.port = static_cast<std::uint16_t>(port);
  } else if (key == "ca-cert") {
    c.ca_cert_path = v;
  } else if (key == "cert") {
    c.cert_path = v;
  } else if (key == "key") {
    c.key_path = v;
  } else if (key == "upstream-socket") {
    c.options.upstream_socket = v;
  } else if (key == "upstream-uri") {
    c.options.upstream_uri = v;
  } else if (key == "policy-dir") {
    c.policy_dir = v;
  } else if (key == "storage-root") {
    if (v.empty() || v.front() != '/') {
      return InvalidArgument("storage-root: '" + v + "' is not absolute");
    }
    c.storage_root = v;
  } else if (key == "emulator") {
    if (!v.empty() && v.front() != '/') {
      return InvalidArgument("emulator: '" + v + "' is not absolute");
    }
    c.host.emulator = v;
  } else if (key == "graphics") {
    TVD_ASSIGN_OR_RETURN(c.host.graphics, ParseGraphicsPolicy(v));
  } else if (key == "frame-timeout-ms" || key == "write-timeout-ms" ||
             key == "handshake-timeout-ms") {
    TVD_ASSIGN_OR_RETURN(long ms, ParseNumber(v, 1, 3600000));
    std::chrono::milliseconds d(ms);
    if (key == "frame-timeout-ms") c.options.frame_timeout = d;
    if (key == "write-timeout-ms") c.options.write_timeout = d;
    if (key == "handshake-timeout-ms") c.options.handshake_timeout = d;
  } else if (key == "proxy-run-dir") {
    if (!v.empty() && v.front() != '/') {
      return InvalidArgument("proxy-run-dir: '" + v + "' is not absolute");
    }
    c.options.proxy_run_dir = v;
  } else if (key == "usage-report-interval-s") {
    TVD_ASSIGN_OR_RETURN(long s, ParseNumber(v, 1, 3600));
    c.options.usage_report_interval = std::chrono::seconds(s);
  } else if (key == "tenant-max-connections") {
    TVD_ASSIGN_OR_RETURN(long n, ParseNumber(v, 0, 4096));
    c.options.tenant_limits.max_connections = static_cast<std::size_t>(n);
  } else if (key == "tenant-calls-per-second") {
    TVD_ASSIGN_OR_RETURN(long n, ParseNumber(v, 0, 1000000));
    c.options.tenant_limits.calls_per_second = static_cast<double>(n);
  } else if (key == "tenant-call-burst") {
    TVD_ASSIGN_OR_RETURN(long n, ParseNumber(v, 1, 1000000));
    c.options.tenant_limits.burst = static_cast<double>(n);
  } else if (key == "tenant-max-in-flight") {
    TVD_ASSIGN_OR_RETURN(long n, ParseNumber(v, 0, 1024));
    c.options.tenant_limits.max_in_flight = static_cast<std::size_t>(n);
  } else {
    return InvalidArgument("unknown setting '" + key + "'");
  }
  return Status::Ok();
}

Status ReadFile(RelayConfig& c, const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError(path + ": cannot be read");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string t(TrimWhitespace(line));
    if (t.empty() || t.front() == '#') continue;
    std::size_t eq = t.find('=');
    std::string where = path + ":" + std::to_string(number) + ": ";
    if (eq == std::string::npos) {
      return InvalidArgument(where + "expected 'key = value'");
    }
    Status s = Apply(c, std::string(TrimWhitespace(t.substr(0, eq))),
                     std::string(TrimWhitespace(t.substr(eq + 1))));
    if (!s.ok()) return InvalidArgument(where + s.message());
  }
  return Status::Ok();
}

}  // namespace

StatusOr<RelayConfig> ParseRelayConfig(const std::vector<std::string>& args) {
  RelayConfig c;
  c.options.proxy_run_dir = "/run/tvd/proxies";
  for (const std::string& a : args) {
    if (!a.starts_with("--") || a.find('=') == std::string::npos) {
      return InvalidArgument("argument '" + a + "': expected --key=value");
    }
    std::size_t eq = a.find('=');
    std::string key = a.substr(2, eq - 2);
    std::string value = a.substr(eq + 1);
    if (key == "config") {
      TVD_RETURN_IF_ERROR(ReadFile(c, value));
      continue;
    }
    Status s = Apply(c, key, value);
    if (!s.ok()) return InvalidArgument("--" + key + ": " + s.message());
  }
  for (const auto& [value, name] :
       {std::pair{&c.ca_cert_path, "ca-cert"}, std::pair{&c.cert_path, "cert"},
        std::pair{&c.key_path, "key"},
        std::pair{&c.policy_dir, "policy-dir"}}) {
    if (value->empty()) {
      return InvalidArgument(std::string("missing setting '") + name + "'");
    }
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

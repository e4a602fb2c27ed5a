// Configuration of the libvirt-filter daemon, from a file and/or flags:
// typed flags and config keys (daemon/flags.h).
//
// File (`--config FILE`): one `key = value` per line, '#' comments, keys as
// the flags without their dashes. Flags (`--key=value` or `--key value`)
// override the file, wherever they stand.
//   listen           ADDRESS:PORT          (default 127.0.0.1:16514; a
//                    numeric address, [IPv6]; port 0: any free port, see
//                    --port-file)
//   ca-cert          PEM file of the VDC CA (the only trust anchor)
//   cert, key        the relay's certificate and private key (PEM)
//   upstream-socket  libvirtd's read-write UNIX socket
//                    (default /run/libvirt/libvirt-sock)
//   upstream-uri     the URI every tenant connection opens (default
//                    qemu:///system), whatever URI the tenant asked for
//   policy-dir       directory of TVD policy files (*.xml)
//   storage-root     tenants' disks must lie under STORAGE-ROOT/<tvd>/
//                    (default /var/lib/tvd)
//   emulator         the only emulator a tenant's domain may name; the relay
//                    writes it into every domain it forwards (default
//                    /usr/bin/qemu-system-x86_64; empty: none, libvirt
//                    chooses)
//   graphics         the console tenants' domains may have: none (default),
//                    vnc or spice (loopback only)
//   frame-timeout-ms, write-timeout-ms, handshake-timeout-ms  durations
//                    (bare number: ms; "10s" works too), 1 ms..1 h
//   tenant-max-connections   relay connections per TVD (default 8; 0: no
//                            limit), 0..4096
//   tenant-calls-per-second  calls per second per TVD, shared by its
//                            connections (default 200; 0: no limit)
//   tenant-call-burst        calls a TVD may make at once above its rate
//                            (default 400), 1..1000000
//   tenant-max-in-flight     a TVD's calls at libvirtd at once, across its
//                            connections (default 4; 0: no limit), 0..1024
//   proxy-run-dir    the proxy-factory's run directory, where each TVD's
//                    proxy takes quota claims (default /run/tvd/proxies;
//                    empty: quotas in total cannot be claimed, so calls that
//                    add to one are refused)
//   usage-report-interval-s  how often each TVD's usage on this host is
//                    reported for its quota in total (default 30; a bare
//                    number is seconds), 1 s..1 h
// Errors name the file and line, or the flag (flags.h has their forms).
#pragma once

#include <string>
#include <vector>

#include "tvd/daemon/flags.h"
#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/relay_server.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

struct RelayConfig {
  RelayOptions options;
  std::string ca_cert_path;
  std::string cert_path;
  std::string key_path;
  std::string policy_dir;
  std::string storage_root = "/var/lib/tvd";
  HostConfinement host;
};

// Declares the flags and config keys above in `flags`, bound to `config`
// (and sets the defaults that RelayOptions does not have).
void DeclareRelayFlags(daemon::FlagSet& flags, RelayConfig& config);

// Parses argv[1..] (reading --config files). InvalidArgument for an unknown
// key, a malformed value, or a missing required key (ca-cert, cert, key,
// policy-dir), in flags.h's forms.
StatusOr<RelayConfig> ParseRelayConfig(const std::vector<std::string>& args);

// Reads the credentials the config names. The key is read into SecureBytes.
StatusOr<channel::TlsCredentials> LoadCredentials(const RelayConfig& config);

}  // namespace tvd::libvirt_filter

// The libvirt-filter relay: a TLS listener that speaks libvirt's RPC
// protocol the way libvirtd's TLS port does (the TLS handshake starts right
// after TCP connect; the client certificate is required and must chain to
// the VDC CA), and forwards each tenant's traffic, filtered by a
// SessionFilter, to its own connection on libvirtd's UNIX socket.
//
// Threads: one accept thread, one thread per tenant connection (so a slow or
// broken tenant never stalls another): net::AcceptServer (accept_server.h),
// without a global connection limit (the limits are per tenant, below);
// one more thread reports quota usage. Per connection, output buffers are
// bounded: while the tenant does not read, the relay stops reading from
// libvirtd for it. A connection is closed when it breaks the protocol (bad
// length word, bad header, malformed arguments), when an incomplete packet
// sits unfinished longer than `frame_timeout`, or when the tenant does not
// take its output for `write_timeout`.
//
// Per tenant (TVD): at most tenant_limits.max_connections connections, a
// call rate shared by its connections and a cap on its calls in flight at
// libvirtd (tenant_limits.h); the TVD policy's per-host quota on defines,
// starts and vCPU/memory changes (quota_guard.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "tvd/channel/tls_context.h"
#include "tvd/libvirt_filter/disk_image_checker.h"
#include "tvd/libvirt_filter/disk_sizes.h"
#include "tvd/libvirt_filter/libvirt_client.h"
#include "tvd/libvirt_filter/not_found_replies.h"
#include "tvd/libvirt_filter/ownership_source.h"
#include "tvd/libvirt_filter/quota_guard.h"
#include "tvd/libvirt_filter/tenant_limits.h"
#include "tvd/net/accept_server.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

struct RelayOptions {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 16514;  // 0: pick a free port (tests)
  std::string upstream_socket = "/run/libvirt/libvirt-sock";
  // The URI every tenant's ConnectOpen is rewritten to.
  std::string upstream_uri = "qemu:///system";
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds frame_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  // Bytes queued towards one side before the relay stops reading the other.
  std::size_t max_buffered = 32 * 1024 * 1024;
  // SO_SNDBUF for tenant sockets; 0 keeps the kernel's (auto-tuned) size.
  int socket_send_buffer = 0;
  // Connections, call rate and calls in flight per TVD.
  TenantLimitOptions tenant_limits;
  // Where the proxies' usage sockets are (host::UsageSocketPath): quotas in
  // total are claimed there. Empty: no path to the master, so a TVD with a
  // quota in total gets every call that adds to it refused.
  std::string proxy_run_dir;
  // How often every TVD with a quota in total has its usage on this host
  // reported, changes or not (frees the relay did not see, such as a
  // guest's own shutdown, reach the master this way).
  std::chrono::milliseconds usage_report_interval{30000};
};

class RelayServer {
 public:
  // Binds, connects the admin-side libvirtd connection (so a wrong socket
  // or URI fails here), learns libvirtd's "not found" wording, and starts
  // accepting. `ownership` and `disks` must outlive the server; `disks` is
  // called from every connection's thread, concurrently, before a tenant's
  // domain is defined or started. Sets SIGPIPE to be ignored process-wide
  // (TLS writes to a vanished tenant must not kill the process).
  static StatusOr<std::unique_ptr<RelayServer>> Start(
      const RelayOptions& options, const OwnershipSource& ownership,
      DiskImageChecker& disks, const channel::TlsCredentials& credentials);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  std::uint16_t port() const { return server_->port(); }
  // Stops accepting, closes every connection and joins all threads.
  void Stop();
  // Tenant connections whose thread has not finished yet.
  std::size_t active_connections() const {
    return server_->active_connections();
  }
  std::uint64_t closed_for_protocol_errors() const {
    return protocol_closes_.load();
  }
  OwnershipCache& cache() { return admin_->cache(); }
  TenantLimits& tenant_limits() { return limits_; }

 private:
  RelayServer(const RelayOptions& options, const OwnershipSource& ownership,
              DiskImageChecker& disks);
  // One tenant connection, on its own thread.
  void Serve(int fd);
  // Reports quota usage as QuotaGuard::ReportsDue says, until Stop.
  void ReportLoop();

  RelayOptions options_;
  const OwnershipSource& ownership_;
  DiskImageChecker& disks_;
  channel::TlsContextPtr tls_;
  std::unique_ptr<AdminConnection> admin_;
  NotFoundReplies not_found_;
  TenantLimits limits_;
  FileDiskSizes disk_sizes_;
  std::unique_ptr<TotalQuotaClaims> claims_;  // null: no proxy_run_dir
  std::unique_ptr<QuotaGuard> quota_;
  std::thread reporter_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> protocol_closes_{0};
  // Last: destroyed (stopped) before what its handlers use.
  net::AcceptServerPtr server_;
};

// The subject of an X.509 certificate as "KEY=value,..." in certificate
// order (e.g. "O=Example VDC,OU=tenant,CN=blue").
std::string CertificateSubject(X509* cert);

}  // namespace tvd::libvirt_filter

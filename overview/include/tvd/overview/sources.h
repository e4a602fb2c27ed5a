// Where the overview's data comes from, behind two small interfaces so unit
// tests feed fixed replies and the daemons use the real clients.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "tvd/channel/tls_context.h"
#include "tvd/daemon/endpoint.h"
#include "tvd/mutex.h"
#include "tvd/overview/model.h"
#include "tvd/protocol/failover_admin_client.h"
#include "tvd/protocol/master_client.h"
#include "tvd/rm/curve_keys.h"
#include "tvd/status.h"

namespace tvd::overview {

// tvd-master's admin queries. Each returns the parsed AdminReply JSON, or
// the client's Status (Unavailable when the master cannot be reached,
// PermissionDenied when the certificate is not an admin's, ...).
class MasterSource {
 public:
  virtual ~MasterSource() = default;
  virtual StatusOr<nlohmann::json> QueryTvds() = 0;
  virtual StatusOr<nlohmann::json> QueryHosts() = 0;
  // "tvd-master 127.0.0.1:7400", for error messages.
  virtual std::string Describe() const = 0;
};

// rm-server's query API. Returns the "result" of the snapshot query, or the
// client's Status (Timeout when the server does not answer: that is also
// how a refused admin key looks under CURVE).
class RmSource {
 public:
  virtual ~RmSource() = default;
  virtual StatusOr<nlohmann::json> Snapshot() = 0;
  virtual std::string Describe() const = 0;
};

// The real master source: one admin connection per query, to the first of
// the master's replicas that accepts it (protocol/failover_admin_client.h).
class AdminMasterSource : public MasterSource {
 public:
  // `masters`: never empty; every replica presents host:`master_name`.
  // `tls`: kClient context with an admin certificate; owned here.
  AdminMasterSource(std::vector<daemon::Endpoint> masters,
                    std::string master_name,
                    std::unique_ptr<channel::TlsContext> tls,
                    std::chrono::milliseconds timeout);
  StatusOr<nlohmann::json> QueryTvds() override;
  StatusOr<nlohmann::json> QueryHosts() override;
  std::string Describe() const override;

 private:
  StatusOr<nlohmann::json> Query(int kind);
  std::unique_ptr<channel::TlsContext> tls_;
  protocol::FailoverAdminClient client_;
};

// The real rm-server source. A fresh CURVE connection per snapshot, so a
// late reply to a timed-out query can never be taken for the next answer.
class RmSnapshotSource : public RmSource {
 public:
  RmSnapshotSource(std::string endpoint, std::string server_public_z85,
                   rm::CurveKeyPair admin_keys,
                   std::chrono::milliseconds timeout);
  StatusOr<nlohmann::json> Snapshot() override;
  std::string Describe() const override;

 private:
  std::string endpoint_;
  std::string server_public_z85_;
  rm::CurveKeyPair admin_keys_;
  std::chrono::milliseconds timeout_;
};

// Builds the admin TLS context from PEM files (the key is read into
// SecureBytes and cleared once the context holds it). Errors: the file
// reader's IoError/FailedPrecondition naming the path, or the TLS context's
// error for a mismatched pair.
StatusOr<std::unique_ptr<channel::TlsContext>> LoadAdminTls(
    const std::string& ca_path, const std::string& cert_path,
    const std::string& key_path);

// Asks both sources and merges (model.h). Never fails: a source that fails,
// or answers something that does not decode, is recorded in the overview's
// SourceState with "<Describe()>: <error>", and the other source is still
// shown. `now_unix`: the generated_at stamp.
Overview CollectOverview(MasterSource& master, RmSource& rm,
                         std::int64_t now_unix);

// Collects at most once per `max_age`, for the web page: concurrent
// requests share the result, and a page refreshing every few seconds does
// not query the master once per browser tab. Thread-safe.
class CachedOverview {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  CachedOverview(std::unique_ptr<MasterSource> master,
                 std::unique_ptr<RmSource> rm,
                 std::chrono::milliseconds max_age,
                 Clock clock = &std::chrono::steady_clock::now);
  Overview Get();

 private:
  std::unique_ptr<MasterSource> master_;
  std::unique_ptr<RmSource> rm_;
  std::chrono::milliseconds max_age_;
  Clock clock_;
  Mutex mutex_;
  std::optional<Overview> cached_ TVD_GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point made_at_ TVD_GUARDED_BY(mutex_){};
};

}  // namespace tvd::overview

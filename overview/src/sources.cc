#include "tvd/overview/sources.h"

#include <algorithm>

#include "tvd/file_util.h"
#include "tvd/mutex.h"
#include "tvd/protocol/admin_client.h"
#include "tvd/rm/query_client.h"

namespace tvd::overview {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxPemBytes = 64 * 1024;

StatusOr<json> ParseReply(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ProtocolError(what + " is not JSON");
  return j;
}

SourceState Failed(const std::string& who, const Status& s) {
  return SourceState{false, s.code(), who + ": " + s.ToString()};
}

}  // namespace

AdminMasterSource::AdminMasterSource(std::vector<daemon::Endpoint> masters,
                                     std::string master_name,
                                     std::unique_ptr<channel::TlsContext> tls,
                                     std::chrono::milliseconds timeout)
    : tls_(std::move(tls)),
      client_(std::move(masters), std::move(master_name), *tls_, timeout) {}

StatusOr<json> AdminMasterSource::Query(int kind) {
  TVD_ASSIGN_OR_RETURN(
      std::string reply,
      client_.Query({static_cast<protocol::AdminQueryKind>(kind), ""}));
  return ParseReply(reply, "the master's reply");
}

StatusOr<json> AdminMasterSource::QueryTvds() {
  return Query(static_cast<int>(protocol::AdminQueryKind::kTvds));
}

StatusOr<json> AdminMasterSource::QueryHosts() {
  return Query(static_cast<int>(protocol::AdminQueryKind::kHosts));
}

std::string AdminMasterSource::Describe() const { return client_.Describe(); }

RmSnapshotSource::RmSnapshotSource(std::string endpoint,
                                   std::string server_public_z85,
                                   rm::CurveKeyPair admin_keys,
                                   std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)),
      server_public_z85_(std::move(server_public_z85)),
      admin_keys_(std::move(admin_keys)),
      timeout_(timeout) {}

StatusOr<json> RmSnapshotSource::Snapshot() {
  TVD_ASSIGN_OR_RETURN(
      auto client,
      rm::RmQueryClient::Connect(endpoint_, server_public_z85_, admin_keys_));
  rm::QueryRequest q;
  q.kind = rm::QueryRequest::Kind::kSnapshot;
  return client->Query(q, timeout_);
}

std::string RmSnapshotSource::Describe() const {
  return "rm-server " + endpoint_;
}

StatusOr<std::unique_ptr<channel::TlsContext>> LoadAdminTls(
    const std::string& ca_path, const std::string& cert_path,
    const std::string& key_path) {
  channel::TlsCredentials creds;
  TVD_ASSIGN_OR_RETURN(creds.ca_cert_pem,
                       ReadFileCapped(ca_path, kMaxPemBytes));
  TVD_ASSIGN_OR_RETURN(creds.cert_pem, ReadFileCapped(cert_path, kMaxPemBytes));
  TVD_ASSIGN_OR_RETURN(std::string key, ReadFileCapped(key_path, kMaxPemBytes));
  creds.key_pem = SecureBytes(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  std::fill(key.begin(), key.end(), '\0');
  auto tls = channel::TlsContext::Create(channel::TlsSide::kClient, creds);
  creds.key_pem.Clear();
  return tls;
}

Overview CollectOverview(MasterSource& master, RmSource& rm,
                         std::int64_t now_unix) {
  std::optional<MasterState> master_state;
  SourceState master_source{true, ErrorCode::kOk, ""};
  StatusOr<json> tvds = master.QueryTvds();
  StatusOr<json> hosts = tvds.ok() ? master.QueryHosts() : tvds.status();
  if (!hosts.ok()) {
    master_source = Failed(master.Describe(), hosts.status());
  } else {
    StatusOr<MasterState> decoded = DecodeMasterState(*tvds, *hosts);
    if (decoded.ok()) {
      master_state = std::move(decoded).value();
    } else {
      master_source = Failed(master.Describe(), decoded.status());
    }
  }

  std::optional<RmState> rm_state;
  SourceState rm_source{true, ErrorCode::kOk, ""};
  StatusOr<json> snapshot = rm.Snapshot();
  if (!snapshot.ok()) {
    rm_source = Failed(rm.Describe(), snapshot.status());
  } else {
    StatusOr<RmState> decoded = DecodeRmSnapshot(*snapshot);
    if (decoded.ok()) {
      rm_state = std::move(decoded).value();
    } else {
      rm_source = Failed(rm.Describe(), decoded.status());
    }
  }
  return MergeOverview(
      master_state ? &*master_state : nullptr, std::move(master_source),
      rm_state ? &*rm_state : nullptr, std::move(rm_source), now_unix);
}

CachedOverview::CachedOverview(std::unique_ptr<MasterSource> master,
                               std::unique_ptr<RmSource> rm,
                               std::chrono::milliseconds max_age, Clock clock)
    : master_(std::move(master)),
      rm_(std::move(rm)),
      max_age_(max_age),
      clock_(std::move(clock)) {}

Overview CachedOverview::Get() {
  MutexLock lock(mutex_);
  const auto now = clock_();
  if (!cached_ || now - made_at_ >= max_age_) {
    const auto unix_now =
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    cached_ = CollectOverview(*master_, *rm_, unix_now);
    made_at_ = now;
  }
  return *cached_;
}

}  // namespace tvd::overview

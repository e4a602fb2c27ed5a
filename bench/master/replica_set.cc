#include "replica_set.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tvd/testing/free_port.h"

namespace tvd::bench {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const pki::Identity kMasterIdentity{pki::Role::kHost, "tvd-master"};

Status WaitForMaster(const protocol::AdminClient& admin, MasterProcess& m) {
  Status last = Unavailable("not tried");
  for (int i = 0; i < 200; ++i) {
    auto r = admin.Query({protocol::AdminQueryKind::kTvds, ""});
    if (r.ok()) return Status::Ok();
    last = r.status();
    if (!m.Running()) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return last.WithContext("master did not answer; its log:\n" + m.Log());
}

StatusOr<std::unique_ptr<ReplicaSet>> ReplicaSet::Start(
    MasterSetup setup, int replicas, const pki::KeyAndCertificate& ca,
    const channel::TlsContext& admin_tls) {
  std::unique_ptr<ReplicaSet> set(new ReplicaSet());
  set->kek_ = SecureBytes::Random(32);
  setup.listen_address = "127.0.0.1";
  if (replicas > 1) {
    TVD_ASSIGN_OR_RETURN(
        set->cluster_,
        testing::OvsdbCluster::StartClustered(
            std::string(TVD_SOURCE_DIR) + "/tvd-master/tvd_master.ovsschema",
            replicas));
    setup.store = "ovsdb:";
    for (const std::string& r : set->cluster_->remotes()) {
      setup.store += (setup.store == "ovsdb:" ? "" : ",") + r;
    }
    setup.kek = &set->kek_;
  }
  for (int k = 0; k < replicas; ++k) {
    TVD_ASSIGN_OR_RETURN(setup.port, testing::FreeLoopbackPort());
    TVD_ASSIGN_OR_RETURN(auto m, MasterProcess::Start(setup, ca));
    set->endpoints_.push_back({"127.0.0.1", setup.port, kMasterIdentity});
    set->admins_.push_back(std::make_unique<protocol::AdminClient>(
        set->endpoints_.back(), admin_tls, milliseconds(60000)));
    Status up = WaitForMaster(*set->admins_.back(), *m);
    set->masters_.push_back(std::move(m));
    if (!up.ok()) return up.WithContext("replica " + std::to_string(k));
  }
  return set;
}

ReplicaSet::~ReplicaSet() {
  for (auto& m : masters_) (void)m->Stop();
  masters_.clear();
  cluster_.reset();
}

Status ReplicaSet::AddTvd(const std::string& name,
                          const std::string& policy_xml) {
  TVD_RETURN_IF_ERROR(admins_.front()->AddTvd(policy_xml).status());
  for (std::size_t k = 1; k < admins_.size(); ++k) {
    auto until = Clock::now() + std::chrono::seconds(30);
    while (!admins_[k]->Query({protocol::AdminQueryKind::kTvd, name}).ok()) {
      if (Clock::now() > until) {
        return Timeout("replica " + std::to_string(k) + " does not know TVD " +
                       name + " 30 s after it was added");
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  return Status::Ok();
}

bool ReplicaSet::HoldsDuties(int i) const {
  auto reply = admins_[i]->Query({protocol::AdminQueryKind::kMaster, ""});
  if (!reply.ok()) return false;
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (!j.is_object() || !j.contains("duties") || !j["duties"].is_object()) {
    return false;
  }
  const auto& held = j["duties"]["held"];
  return held.is_boolean() && held.get<bool>();
}

}  // namespace tvd::bench

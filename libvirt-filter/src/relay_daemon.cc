#include "tvd/libvirt_filter/relay_daemon.h"

#include "tvd/libvirt_filter/file_disk_image_checker.h"
#include "tvd/libvirt_filter/ownership_source.h"
#include "tvd/libvirt_filter/relay_server.h"

namespace tvd::libvirt_filter {

namespace {

// Owns what the relay's threads use; the server (declared last) goes first.
class RelayDaemon : public daemon::Daemon {
 public:
  explicit RelayDaemon(std::unique_ptr<StaticOwnership> ownership)
      : ownership_(std::move(ownership)) {}
  Status Serve(const RelayConfig& config,
               const channel::TlsCredentials& credentials) {
    TVD_ASSIGN_OR_RETURN(
        server_,
        RelayServer::Start(config.options, *ownership_, disks_, credentials));
    return Status::Ok();
  }
  std::uint16_t port() const override { return server_->port(); }
  void Stop() override { server_->Stop(); }

 private:
  std::unique_ptr<StaticOwnership> ownership_;
  // Every disk image a tenant defines or starts is read first: its qcow2
  // backing chain must stay inside the TVD's storage.
  FileDiskImageChecker disks_;
  std::unique_ptr<RelayServer> server_;
};

}  // namespace

StatusOr<daemon::DaemonPtr> StartRelayDaemon(const RelayConfig& config) {
  TVD_ASSIGN_OR_RETURN(
      std::unique_ptr<StaticOwnership> ownership,
      LoadPolicyDirectory(config.policy_dir, config.storage_root, config.host));
  TVD_ASSIGN_OR_RETURN(channel::TlsCredentials credentials,
                       LoadCredentials(config));
  auto d = std::make_unique<RelayDaemon>(std::move(ownership));
  TVD_RETURN_IF_ERROR(d->Serve(config, credentials));
  return daemon::DaemonPtr(std::move(d));
}

daemon::DaemonSpec<RelayConfig> RelayDaemonSpec() {
  daemon::DaemonSpec<RelayConfig> spec;
  spec.name = "libvirt-filter";
  spec.summary =
      "The relay tenants point virsh / virt-manager at: each sees only its "
      "own TVD's domains (docs/libvirt-filter.md).";
  spec.listens = true;
  spec.declare = DeclareRelayFlags;
  spec.start = [](RelayConfig& c) { return StartRelayDaemon(c); };
  return spec;
}

}  // namespace tvd::libvirt_filter

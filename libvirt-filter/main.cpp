// libvirt-filter: the relay tenants point virsh / virt-manager /
// python-libvirt at. See docs/libvirt-filter.md.
#include <csignal>
#include <iostream>
#include <vector>

#include "tvd/libvirt_filter/file_disk_image_checker.h"
#include "tvd/libvirt_filter/relay_config.h"
#include "tvd/libvirt_filter/relay_server.h"
#include "tvd/log.h"

int main(int argc, char** argv) {
  using namespace tvd::libvirt_filter;
  tvd::log::SetComponent("libvirt-filter");
  std::vector<std::string> args(argv + 1, argv + argc);
  tvd::StatusOr<RelayConfig> config = ParseRelayConfig(args);
  if (!config.ok()) {
    std::cerr << "libvirt-filter: " << config.status().message() << "\n";
    return 2;
  }
  auto ownership = LoadPolicyDirectory(config->policy_dir, config->storage_root,
                                       config->host);
  if (!ownership.ok()) {
    std::cerr << "libvirt-filter: " << ownership.status().message() << "\n";
    return 1;
  }
  auto credentials = LoadCredentials(*config);
  if (!credentials.ok()) {
    std::cerr << "libvirt-filter: " << credentials.status().message() << "\n";
    return 1;
  }
  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Every disk image a tenant defines or starts is read first: its qcow2
  // backing chain must stay inside the TVD's storage.
  FileDiskImageChecker disks;
  auto server =
      RelayServer::Start(config->options, **ownership, disks, *credentials);
  if (!server.ok()) {
    std::cerr << "libvirt-filter: " << server.status().message() << "\n";
    return 1;
  }
  int signal = 0;
  sigwait(&stop, &signal);
  tvd::log::Info("stopping on signal ", signal);
  (*server)->Stop();
  return 0;
}

// tvd-proxy as a daemon: its flags and the wiring of the real libvirt, OVS
// (OVSDB, OpenFlow), iproute2, charon (VICI), TPM and master clients into
// TvdProxy (tvd_proxy.h), in the library so tests start it the way main
// does (daemon/run_daemon.h). Started by proxy-factory:
//
//   tvd-proxy --tvd NAME --socket PATH --host ID --address ADDR
//             --master ADDRESS:PORT[,ADDRESS:PORT...] [--master-name NAME]
//             --ca PEM --cert PEM --key PEM [--tcti TCTI|none]
//             [--libvirt-uri URI] [--secrets-uri URI]
//             [--ovsdb PATH] [--bridge NAME] [--openflow PATH] [--vici PATH]
//             [--netns NAME] [--datapath netdev|system]
//             [--ima-log PATH] [--event-log PATH] [--state-dir DIR]
//             [--usage-socket PATH] [--vtpm-storage-dir DIR]
//             [--libvirt-channel-dir DIR]
//
// It joins, then serves its control socket until it has left the TVD or
// gets SIGTERM/SIGINT.
//
// --master takes one master or a list of replicas (at most 16, each a
// numeric ADDRESS:PORT, no two the same: daemon/endpoint_list.h); the proxy
// joins through the first that serves it and fails over to the next when
// its master dies (master_client_link.h). Every replica must present the
// one certificate name --master-name.
#pragma once

#include <string>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/daemon/run_daemon.h"

namespace tvd::proxy {

struct ProxyFlags {
  std::string tvd;
  std::string socket;
  std::string host;
  std::string address;
  std::vector<daemon::Endpoint> masters;  // in the order to try them
  std::string master_name = "tvd-master";
  std::string ca;
  std::string cert;
  std::string key;
  std::string tcti = "device:/dev/tpmrm0";  // "none": a host without TPM
  std::string libvirt_uri = "qemu:///system";
  std::string secrets_uri;
  std::string ovsdb = "/var/run/openvswitch/db.sock";
  std::string bridge = "br-tvd";
  std::string openflow;  // default /var/run/openvswitch/<bridge>.mgmt
  std::string vici = "/var/run/charon.vici";
  std::string netns;
  std::string datapath = "netdev";
  std::string ima_log;
  std::string event_log;  // default: securityfs binary_bios_measurements
  std::string state_dir = "/var/lib/tvd/proxy";
  std::string usage_socket;
  // libvirt's swtpm storage directory as this process sees it (libvirt's
  // compiled-in default; a private libvirtd in tests binds another).
  std::string vtpm_storage_dir = "/var/lib/libvirt/swtpm";
  // libvirt's channel directory (kLibvirtChannelDir) as this process sees
  // it: where a VM's attestation socket is (deep quotes).
  std::string libvirt_channel_dir = "/var/lib/libvirt/qemu/channel/target";
};

// Connects libvirt, OVSDB, OpenFlow and charon, reads the credentials,
// opens the TPM (unless --tcti none), joins the TVD (idempotent: after a
// restart this reconciles) and listens on the control socket (and the
// usage socket). Errors: the first part that failed, e.g. IoError "cannot
// read /x/cert.pem".
StatusOr<daemon::DaemonPtr> StartProxyDaemon(const ProxyFlags& flags);

// The flags and Start that tvd-proxy's main hands to RunDaemon.
daemon::DaemonSpec<ProxyFlags> ProxyDaemonSpec();

}  // namespace tvd::proxy

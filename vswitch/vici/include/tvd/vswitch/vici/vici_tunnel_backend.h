// TunnelBackend on strongSwan's charon, configured over VICI.
//
// A tunnel "tvd-<tvd>-<peer>" between this host (A) and the peer (B) is:
//   - a shared key, id = tunnel name, type IKE, owners <tvd>@A and <tvd>@B,
//     loaded with load-shared (the secret goes over the socket only);
//   - an IKEv2 connection of the same name, local_addrs A, remote_addrs B,
//     PSK authentication with identities <tvd>@A / <tvd>@B (so charon picks
//     the right TVD's config and key when several TVDs join the same hosts),
//     the TVD's IKE proposals, unique=replace (a restarted peer replaces its
//     stale SA);
//   - two CHILD_SAs in tunnel mode, both carrying only this TVD's VXLAN
//     port P = VxlanPortForTvd(tvd_id):
//        "<name>-out"  A/32[udp]   <-> B/32[udp/P]  (A's VXLAN sends to B)
//        "<name>-in"   A/32[udp/P] <-> B/32[udp]    (B's VXLAN sends to A)
//     VXLAN picks a hash-based source port and sends to P, so each direction
//     of the VXLAN traffic needs its own selector pair; one child with both
//     pairs would also cover A[udp]<->B[udp], i.e. every UDP flow between
//     the hosts, including other TVDs'.
//
// Tunnel mode because charon's userspace ESP (kernel-libipsec, used where the
// kernel has no ESP) supports nothing else, and the same configuration must
// work with kernel ESP. charon must run with kernel-libipsec's allow_peer_ts
// and the fwmark split described in docs/ipsec.md, because these selectors
// name the IKE peer's own address.
//
// The initiator end (spec.initiator) initiates both children in
// EnsureTunnel and reports whether that worked; the responder end only loads
// its configuration and never initiates (two initiating ends race and build
// duplicate SAs). So configure the responder first. When the initiator goes
// first, its EnsureTunnel returns Unavailable ("pending": the peer has no
// configuration yet); calling it again once the peer is configured brings
// the tunnel up. Only the initiator restarts the tunnel when the peer stops
// answering (dead peer detection).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tvd/status.h"
#include "tvd/vswitch/tunnel_backend.h"
#include "tvd/vswitch/vici/client.h"

namespace tvd::vici {

struct ViciTunnelBackendOptions {
  // How long the initiator waits for each CHILD_SA in EnsureTunnel.
  std::chrono::milliseconds initiate_timeout = std::chrono::seconds(10);
  // How long RemoveTunnel waits for the peer to confirm the DELETE before
  // destroying the SAs anyway.
  std::chrono::milliseconds terminate_timeout = std::chrono::seconds(2);
};

class ViciTunnelBackend : public vswitch::TunnelBackend {
 public:
  explicit ViciTunnelBackend(ViciClientPtr client,
                             ViciTunnelBackendOptions options = {});

  // Convenience: connects a client to `vici_socket_path` first.
  static StatusOr<std::unique_ptr<ViciTunnelBackend>> Connect(
      const std::string& vici_socket_path,
      ViciTunnelBackendOptions options = {});

  // Checks the spec, then loads the shared key and the connection (replacing
  // an older version of either), then on the initiator initiates any of the
  // two children that is not installed yet. Errors:
  //   InvalidArgument  bad spec (which field and why); nothing was sent
  //   FailedPrecondition / Unavailable / Timeout  from charon; when the
  //     tunnel did not exist before, its key and connection are removed
  //     again, so nothing is left half-configured
  //   Unavailable "tunnel '<name>': initiating ..."  (initiator only) the
  //     configuration is loaded and complete but the SA did not come up: the
  //     peer is not configured yet (it will start the tunnel when it is), or
  //     the keys differ (charon's reason is included). Calling again retries.
  Status EnsureTunnel(const vswitch::TunnelSpec& spec) override;

  // Terminates the tunnel's IKE_SA (and so its children), unloads the
  // connection and the shared key. NotFound when neither a connection nor a
  // key of that name exists.
  Status RemoveTunnel(const std::string& name) override;

  // Names of "tvd-" connections and shared keys loaded in charon (a key
  // without a connection is listed too, so that reconciliation removes it).
  StatusOr<std::vector<std::string>> ListTunnels() override;

  // The VICI configuration EnsureTunnel loads for `spec` (no secret in it),
  // exposed for tests and for docs. InvalidArgument for a bad spec.
  static StatusOr<Message> BuildConnection(const vswitch::TunnelSpec& spec);
  static Status ValidateSpec(const vswitch::TunnelSpec& spec);

  ViciClient& client() { return *client_; }

 private:
  Status InitiateMissingChildren(const vswitch::TunnelSpec& spec,
                                 const std::string& name);

  ViciClientPtr client_;
  ViciTunnelBackendOptions options_;
};

// Names of the two CHILD_SAs of tunnel `name`.
std::string OutboundChildName(const std::string& tunnel_name);
std::string InboundChildName(const std::string& tunnel_name);

// The IKE identity of `host` in `tvd`: "<tvd>@<host>".
std::string TunnelIdentity(const std::string& tvd, const std::string& host);

}  // namespace tvd::vici

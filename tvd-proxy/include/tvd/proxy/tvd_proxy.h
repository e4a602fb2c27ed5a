// One TVD's presence on this host: join, attach, detach, leave.
//
// Holds the TVD policy and key material in memory only (the key in
// SecureBytes, cleared on leave). Every operation either completes or
// undoes what it did (an attach that fails after defining the domain
// destroys it, unplugs its ports and undefines its secrets). Not
// thread-safe, on purpose: one thread (the daemon's loop) calls everything,
// control requests and master updates alike. The master link's thread only
// leaves updates in a MasterUpdateInbox (update_inbox.h) that the loop
// drains, so no lock is held across libvirt, OVS or master I/O and the
// link's thread never waits for the proxy.
//
// Disk secrets are named by their libvirt usage "tvd/<tvd>/<vm>/<disk>",
// a vTPM's "tvd/<tvd>/<vm>/#vtpm" (no disk target has a '#'), so a
// restarted proxy finds them again without any state on disk.
//
// Ports only for admitted VMs: each NIC's host tap gets a name of the
// proxy's (TapName), written into the domain XML given to libvirt; the VMs
// the proxy measured and admitted, with their UUIDs, taps, networks and
// MACs, are kept in an AdmissionStore. After a restart, Join re-plugs those
// VMs from the record alone; any other domain of the TVD (one a tenant
// defined through the relay) gets no port, and every VM port the switch
// records for the TVD that is not a recorded port of a recorded VM (plugged
// by an earlier proxy version, or left by a crash between plug and record)
// is unplugged.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tvd/clock.h"
#include "tvd/host/control_protocol.h"
#include "tvd/policy/vm_config.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/hypervisor.h"
#include "tvd/proxy/master_link.h"
#include "tvd/proxy/measurement_cache.h"
#include "tvd/proxy/tvd_network.h"
#include "tvd/proxy/vtpm_state.h"
#include "tvd/status.h"

namespace tvd::proxy {

struct ProxyConfig {
  std::string tvd;            // the TVD this proxy serves
  std::string local_host;     // this host's identity
  std::string local_address;  // this host's underlay address
  std::size_t max_vm_config_bytes = 1024 * 1024;
  // How long the proxy waits for a guest's quote (a deep quote the master
  // asked for); below the master's own wait for the host's report.
  std::chrono::milliseconds guest_quote_timeout{5000};
};

class TvdProxy {
 public:
  // Every seam must outlive the proxy. `clock` times the network retries
  // (RetryPendingNetwork); the daemon passes a SteadyClock. `vtpms` makes
  // the vTPMs of VMs with <tvd:vtpm/>; null: such VMs are refused.
  TvdProxy(ProxyConfig config, MasterLink& master, Hypervisor& hypervisor,
           TvdNetwork& network, MeasurementCache& cache,
           AdmissionStore& admissions, ClockPtr clock,
           VtpmStates* vtpms = nullptr);
  ~TvdProxy();

  // Reads the admission record, joins through the master, programs the
  // TVD's networks and tunnels, then re-plugs the admitted VMs already on
  // the host (after a restart): only the recorded ones whose domain still
  // has the recorded UUID, with the recorded taps, networks and MACs. A
  // recorded VM whose domain is gone or has another UUID is dropped from
  // the record (its recorded ports are unplugged); a domain of the TVD that
  // is not recorded gets no port. Before re-plugging, every VM port the
  // switch records for the TVD that is not a recorded port (same tap, VM
  // and network) of a recorded VM is unplugged and logged. Fails closed:
  // when those ports cannot be listed or one cannot be unplugged, the join
  // fails with that error and is undone (LeaveTvd removes every port of the
  // TVD, the master is told), and nothing is re-plugged. AlreadyExists when
  // joined; the admission store's error (nothing contacted, nothing
  // changed), or the master's or the network's error (then nothing stays
  // joined).
  Status Join();

  // Attaches the VM whose final configuration is at `vm_config_path`:
  // measures and admits it, names its taps (TapName), records it in the
  // admission store, starts it and plugs its ports. Returns
  // {"vm":..., "uuid":..., "ports":[tap, ...],
  //  "nics":[{"target":..., "port": tap, "network":...}, ...],
  //  "encrypted_disks":[...],
  //  "vtpm": null | {"uuid":..., "ek_sha256":..., "ak_sha256":...}}.
  // A VM with <tvd:vtpm/> gets a vTPM (MakeVtpm) before it starts; a VM
  // whose domain has a <tpm> of its own is refused (PermissionDenied "VM
  // 'X': the domain has a <tpm> device of its own; ...").
  // PermissionDenied "VM 'X': interface target 'T' names an existing host
  // link; ..." when an interface target of the configuration is a device
  // of the host that is not one of this VM's taps.
  // Disk secrets already under the VM's usage (left by an attach that died
  // before recording the VM) are replaced, not refused.
  StatusOr<nlohmann::json> Attach(const std::string& vm_config_path);

  // NotFound when the VM is not attached through this TVD.
  Status Detach(const std::string& vm);

  // Destroys the TVD's VMs, removes its networks, tunnels and secrets,
  // tells the master, zeroes the key. Every step is attempted; the first
  // error is returned.
  Status Leave();

  // Master updates: new member list -> tunnels follow (a new key: rekeyed
  // in place, nothing torn down); the same epoch, key and members as held
  // with the networks programmed (a rejoin, e.g. at another master replica)
  // -> nothing changes on the host, only unacknowledged VM reports are sent
  // again; eviction -> Leave; a guest quote order -> the guest of the
  // attached VM is asked through its attestation channel
  // (Hypervisor::AskGuestForQuote) and the answer, or why there is none,
  // is reported to the master (MasterLink::ReportGuestQuote). An order for
  // another TVD or a VM not attached here is answered with the reason,
  // and no guest is asked.
  void OnMasterUpdate(const MasterUpdate& update);

  // Programs the networks again when the last attempt after a master update
  // (members or policy) failed (typically a tunnel whose peer has not loaded
  // its end yet: the master tells the members of a join before the joiner
  // has configured charon). The daemon calls it from its loop. It tries only
  // once `retry_interval` has passed since the last attempt (the failed
  // update, or the previous retry, failed or not), by the injected clock.
  // Returns true when it tried and succeeded; false when nothing is
  // pending, the interval has not passed, or the attempt failed (then it
  // stays pending).
  bool RetryPendingNetwork(
      std::chrono::milliseconds retry_interval = std::chrono::seconds(1));

  nlohmann::json StatusJson();

  // Maps a control request (for this TVD) to the operations above.
  host::ControlResponse Handle(const host::ControlRequest& request);

  bool joined();
  // True once Leave completed (the process may exit).
  bool left();

 private:
  struct AttachedVm {
    std::string uuid;
    std::vector<std::string> ports;
  };
  Status ProgramNetwork(const std::vector<Member>& members);
  // See Join.
  Status RemoveStalePorts(const AdmissionRecord& record);
  Status ReplugAdmitted(AdmissionRecord record);
  // `report`: tell the master (not on leave: the master drops a leaving
  // host's VMs itself).
  Status DetachVm(const std::string& vm, bool report = true);
  // Reports an attach/detach to the master; a failure is logged and kept in
  // unreported_ for the next reconnect (FlushReports), never undone.
  void Report(const std::string& vm, const std::string& uuid, bool attached);
  void FlushReports();
  void AnswerGuestQuote(const protocol::GuestQuoteOrder& order);
  Status RemoveSecrets(const std::string& usage_prefix);
  // The vTPM of `vm`: its domain UUID (the configuration's, or a new one),
  // refused when a domain has that UUID (AlreadyExists "domain with UUID
  // 'U' already exists as 'OTHER'"); a stale state of that UUID removed;
  // the state key from the master; the state made (VtpmStates::Create);
  // an ephemeral private libvirt secret "tvd/<tvd>/<vm>/#vtpm" of usage
  // type vtpm holding it; the EK and AK recorded at the master. Sets `uuid`
  // once the state exists (the caller removes it on failure, with the
  // VM's secrets) and `secret` to the secret's UUID. FailedPrecondition
  // when no VtpmStates was given.
  StatusOr<nlohmann::json> MakeVtpm(const policy::VmConfig& vm,
                                    std::string& uuid, std::string& secret);
  std::string SecretPrefix(const std::string& vm) const;

  ProxyConfig config_;
  MasterLink& master_;
  Hypervisor& hypervisor_;
  TvdNetwork& network_;
  MeasurementCache& cache_;
  AdmissionStore& admissions_;
  ClockPtr clock_;
  VtpmStates* vtpms_;

  std::optional<JoinGrant> grant_;
  std::map<std::string, AttachedVm> vms_;
  // What admissions_ holds (kept equal to it after every change).
  AdmissionRecord admitted_;
  bool left_ = false;
  // VM reports the master has not acknowledged yet, by VM: the latest state
  // (uuid, attached) wins.
  std::map<std::string, std::pair<std::string, bool>> unreported_;
  // The last network programming after a master update failed.
  bool network_pending_ = false;
  Clock::TimePoint last_network_try_{};
};

}  // namespace tvd::proxy

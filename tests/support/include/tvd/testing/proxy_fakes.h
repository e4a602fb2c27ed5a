// Fakes of the proxy's outside world for unit tests: the master, the
// hypervisor (fake_hypervisor.h), the host network and the admission store.
// Each records what it was asked and can be told to fail.
#pragma once

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tvd/policy/vm_config_parser.h"
#include "tvd/protocol/messages.h"
#include "tvd/proxy/admission_store.h"
#include "tvd/proxy/master_link.h"
#include "tvd/proxy/tvd_network.h"
#include "tvd/proxy/vtpm_state.h"
#include "tvd/testing/fake_hypervisor.h"

namespace tvd::proxy::testing {

class FakeMaster : public MasterLink {
 public:
  explicit FakeMaster(policy::TvdPolicy policy) : policy_(std::move(policy)) {}
  StatusOr<JoinGrant> Join(const std::string& tvd) override {
    ++joins;
    if (!join_error.ok()) return join_error;
    if (tvd != policy_.name) return NotFound("no TVD '" + tvd + "'");
    JoinGrant g;
    g.policy = policy_;
    g.key_epoch = 7;
    g.tvd_key = SecureBytes(std::span<const std::uint8_t>(key_));
    g.members = members;
    return g;
  }
  Status Leave(const std::string& tvd) override {
    leaves.push_back(tvd);
    return Status::Ok();
  }
  StatusOr<SecureBytes> RequestDiskKey(const std::string& tvd,
                                       const std::string& vm) override {
    disk_key_requests.push_back(tvd + "/" + vm);
    if (!policy_.ReleasesDiskKeyTo(vm)) {
      return PermissionDenied("no disk key for VM '" + vm + "'");
    }
    return SecureBytes(std::span<const std::uint8_t>(disk_key));
  }
  StatusOr<SecureBytes> RequestVtpmKey(const std::string& tvd,
                                       const std::string& vm) override {
    vtpm_key_requests.push_back(tvd + "/" + vm);
    if (!vtpm_key_error.ok()) return vtpm_key_error;
    if (!policy_.GrantsVtpmTo(vm)) {
      return PermissionDenied("no vTPM for VM '" + vm + "'");
    }
    return SecureBytes(std::span<const std::uint8_t>(vtpm_key));
  }
  Status RecordVtpm(const std::string& tvd, const std::string& vm,
                    const std::vector<std::uint8_t>& ek_public,
                    const std::vector<std::uint8_t>& ak_public) override {
    if (!record_vtpm_error.ok()) return record_vtpm_error;
    vtpm_records.push_back({tvd, vm, ek_public, ak_public});
    return Status::Ok();
  }
  Status ReportVm(const std::string& tvd, const std::string& vm,
                  const std::string& uuid, bool attached) override {
    reports.push_back({tvd, vm, uuid, attached, report_error.ok()});
    return report_error;
  }
  Status ClaimUsage(const std::string& tvd, const policy::QuotaAmounts& held,
                    const policy::QuotaAmounts& adds) override {
    usage_claims.push_back({tvd, held, adds});
    return usage_error;
  }
  Status ReportGuestQuote(const protocol::GuestQuoteReport& report) override {
    guest_quote_reports.push_back(report);
    return guest_quote_report_error;
  }
  void SetUpdateHandler(UpdateHandler h) override { handler = std::move(h); }

  // Every ReportVm call, in order; `delivered` is false for the ones the
  // fake refused with report_error.
  struct Report {
    std::string tvd;
    std::string vm;
    std::string uuid;
    bool attached = true;
    bool delivered = true;
    friend bool operator==(const Report&, const Report&) = default;
  };
  policy::TvdPolicy policy_;
  std::vector<std::uint8_t> key_ = std::vector<std::uint8_t>(32, 0x5a);
  std::vector<std::uint8_t> disk_key = std::vector<std::uint8_t>(32, 0x11);
  std::vector<Member> members;
  Status join_error;
  int joins = 0;
  std::vector<std::string> leaves;
  std::vector<std::string> disk_key_requests;
  std::vector<std::uint8_t> vtpm_key = std::vector<std::uint8_t>(32, 0x33);
  std::vector<std::string> vtpm_key_requests;
  Status vtpm_key_error;  // returned by RequestVtpmKey when not OK
  // Every recorded vTPM (RecordVtpm calls that were not refused).
  std::vector<protocol::VtpmRecord> vtpm_records;
  Status record_vtpm_error;  // returned by RecordVtpm when not OK
  std::vector<Report> reports;
  Status report_error;  // returned by ReportVm when not OK
  // Every ClaimUsage call, in order, as the protocol message it would be.
  std::vector<protocol::UsageClaim> usage_claims;
  Status usage_error;  // returned by ClaimUsage when not OK
  // Every ReportGuestQuote call, in order.
  std::vector<protocol::GuestQuoteReport> guest_quote_reports;
  Status guest_quote_report_error;  // returned by ReportGuestQuote
  UpdateHandler handler;
};

// vTPM states in memory: by domain UUID, the passphrase each was made
// with.
class FakeVtpmStates : public VtpmStates {
 public:
  StatusOr<VtpmPublics> Create(const std::string& uuid,
                               const SecureBytes& passphrase) override {
    if (!create_error.ok()) return create_error;
    if (states.contains(uuid)) {
      return AlreadyExists("vTPM state of domain " + uuid +
                           " already exists (fake)");
    }
    states[uuid] = std::vector<std::uint8_t>(
        passphrase.data(), passphrase.data() + passphrase.size());
    return publics;
  }
  Status Remove(const std::string& uuid) override {
    removed.push_back(uuid);
    if (!remove_error.ok()) return remove_error;
    states.erase(uuid);
    return Status::Ok();
  }
  bool Exists(const std::string& uuid) override {
    return states.contains(uuid);
  }

  std::map<std::string, std::vector<std::uint8_t>> states;
  VtpmPublics publics{{0x01, 0x3a, 0xee}, {0x01, 0x18, 0xaa}};
  Status create_error;
  Status remove_error;
  std::vector<std::string> removed;  // every Remove call, in order
};

class FakeNetwork : public TvdNetwork {
 public:
  Status JoinTvd(const vswitch::TvdSpec& spec) override {
    ++join_calls;
    if (!join_error.ok()) return join_error;
    joined[spec.tvd] = spec;
    psks.clear();
    for (const auto& p : spec.peers) {
      psks[p.host] = std::vector<std::uint8_t>(p.psk->data(),
                                               p.psk->data() + p.psk->size());
    }
    // The spec's PSK pointers are only valid during the call.
    for (auto& p : joined[spec.tvd].peers) p.psk = nullptr;
    return Status::Ok();
  }
  Status PlugVmPort(const vswitch::VmPortSpec& port) override {
    if (!plug_error.ok()) return plug_error;
    if (!joined.contains(port.tvd)) {
      return FailedPrecondition("TVD not on host");
    }
    ports[port.port] = port;
    return Status::Ok();
  }
  Status UnplugVmPort(const std::string& port) override {
    unplugged.push_back(port);
    if (!unplug_error.ok()) return unplug_error;
    if (ports.erase(port) == 0) return NotFound(port);
    return Status::Ok();
  }
  Status LeaveTvd(const std::string& tvd) override {
    if (joined.erase(tvd) == 0) return NotFound(tvd);
    for (auto it = ports.begin(); it != ports.end();) {
      it = it->second.tvd == tvd ? ports.erase(it) : std::next(it);
    }
    return Status::Ok();
  }

  StatusOr<std::vector<vswitch::VmPortInfo>> ListVmPorts(
      const std::string& tvd) override {
    ++lists;
    if (!list_error.ok()) return list_error;
    std::vector<vswitch::VmPortInfo> out;
    for (const auto& [name, p] : ports) {
      if (p.tvd == tvd) out.push_back({name, p.vm, p.network});
    }
    return out;
  }

  StatusOr<bool> LinkExists(const std::string& name) override {
    if (!link_error.ok()) return link_error;
    return host_links.contains(name);
  }

  std::map<std::string, vswitch::TvdSpec> joined;
  std::map<std::string, vswitch::VmPortSpec> ports;
  std::vector<std::string> unplugged;  // every UnplugVmPort call, in order
  std::set<std::string> host_links;    // devices LinkExists reports
  Status link_error;
  std::map<std::string, std::vector<std::uint8_t>> psks;
  Status join_error;
  int join_calls = 0;  // every JoinTvd call, failed ones included
  Status plug_error;
  Status list_error;    // returned by ListVmPorts when not OK
  Status unplug_error;  // returned by UnplugVmPort when not OK
  int lists = 0;
};

// The record in memory; Load/Save/Remove can be told to fail.
class FakeAdmissionStore : public AdmissionStore {
 public:
  StatusOr<AdmissionRecord> Load() override {
    ++loads;
    if (!load_error.ok()) return load_error;
    return record;
  }
  Status Save(const AdmissionRecord& r) override {
    if (!save_error.ok()) return save_error;
    ++saves;
    record = r;
    return Status::Ok();
  }
  Status Remove() override {
    ++removes;
    record.vms.clear();
    return Status::Ok();
  }

  AdmissionRecord record;
  Status load_error;
  Status save_error;
  int loads = 0;
  int saves = 0;
  int removes = 0;
};

}  // namespace tvd::proxy::testing

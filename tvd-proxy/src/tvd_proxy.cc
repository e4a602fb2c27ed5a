#include "tvd/proxy/tvd_proxy.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "tvd/attest/guest_quote.h"
#include "tvd/log.h"
#include "tvd/policy/canonical.h"
#include "tvd/policy/vm_config_parser.h"
#include "tvd/protocol/tunnel_key.h"
#include "tvd/proxy/disk_passphrase.h"
#include "tvd/proxy/tap_name.h"
#include "tvd/proxy/vm_admission.h"
#include "tvd/sha256.h"

namespace tvd::proxy {

namespace {

StatusOr<std::string> ReadSmallFile(const std::string& path,
                                    std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open VM configuration " + path);
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_bytes) {
      return InvalidArgument("VM configuration " + path + " is larger than " +
                             std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) return IoError("cannot read VM configuration " + path);
  return data;
}

// The same other hosts at the same addresses, in any order (this host is
// listed by some masters' answers and not by others; it never gets a
// tunnel).
bool SameMembers(std::vector<Member> a, std::vector<Member> b,
                 const std::string& local_host) {
  auto local = [&](const Member& m) { return m.host == local_host; };
  std::erase_if(a, local);
  std::erase_if(b, local);
  auto by_host = [](const Member& x, const Member& y) {
    return std::tie(x.host, x.address) < std::tie(y.host, y.address);
  };
  std::sort(a.begin(), a.end(), by_host);
  std::sort(b.begin(), b.end(), by_host);
  return a == b;
}

void KeepFirst(Status& first, const Status& s) {
  if (first.ok() && !s.ok()) first = s;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// A random (version 4) UUID for a domain whose configuration has none: its
// vTPM state is named by it before libvirt would pick one.
std::string NewUuid() {
  SecureBytes r = SecureBytes::Random(16);
  std::uint8_t b[16];
  std::copy(r.data(), r.data() + 16, b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  std::string hex = ToHex(std::span<const std::uint8_t>(b, 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) +
         "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace

TvdProxy::TvdProxy(ProxyConfig config, MasterLink& master,
                   Hypervisor& hypervisor, TvdNetwork& network,
                   MeasurementCache& cache, AdmissionStore& admissions,
                   ClockPtr clock, VtpmStates* vtpms)
    : config_(std::move(config)),
      master_(master),
      hypervisor_(hypervisor),
      network_(network),
      cache_(cache),
      admissions_(admissions),
      clock_(std::move(clock)),
      vtpms_(vtpms) {}

TvdProxy::~TvdProxy() {
  if (grant_) grant_->tvd_key.Clear();
}

bool TvdProxy::joined() { return grant_.has_value(); }

bool TvdProxy::left() { return left_; }

std::string TvdProxy::SecretPrefix(const std::string& vm) const {
  return "tvd/" + config_.tvd + "/" + (vm.empty() ? "" : vm + "/");
}

Status TvdProxy::Join() {
  if (grant_) {
    return AlreadyExists("this host is already a member of TVD '" +
                         config_.tvd + "'");
  }
  // A record that cannot be trusted stops the join before anything changes:
  // nothing would say which VMs may have ports.
  auto record = admissions_.Load();
  if (!record.ok()) {
    return record.status().WithContext("reading the admission record of TVD '" +
                                       config_.tvd + "'");
  }
  auto grant = master_.Join(config_.tvd);
  if (!grant.ok()) {
    return grant.status().WithContext("joining TVD '" + config_.tvd + "'");
  }
  if (grant->policy.name != config_.tvd) {
    (void)master_.Leave(config_.tvd);
    return ProtocolError("master sent the policy of TVD '" +
                         grant->policy.name + "' for a join of '" +
                         config_.tvd + "'");
  }
  grant_ = std::move(grant).value();
  left_ = false;
  Status net =
      ProgramNetwork(grant_->members)
          .WithContext("programming the networks of TVD '" + config_.tvd + "'");
  // Fail closed: a port that cannot be told stale, or cannot be removed,
  // might keep a never-admitted domain on the TVD network; undoing the
  // network removes every port of the TVD instead, and nothing is
  // re-plugged.
  if (net.ok()) net = RemoveStalePorts(*record);
  if (!net.ok()) {
    Status undo = network_.LeaveTvd(config_.tvd);
    if (!undo.ok() && undo.code() != ErrorCode::kNotFound) {
      log::Warning("undoing network of TVD '", config_.tvd,
                   "': ", undo.ToString());
    }
    (void)master_.Leave(config_.tvd);
    grant_->tvd_key.Clear();
    grant_.reset();
    return net;
  }
  Status adopt = ReplugAdmitted(std::move(record).value());
  if (!adopt.ok()) {
    log::Warning("TVD '", config_.tvd,
                 "': re-plugging admitted VMs: ", adopt.ToString());
  }
  // The master learns the VMs this proxy runs (adopted after a restart).
  for (const auto& [name, vm] : vms_) Report(name, vm.uuid, true);
  log::Info("joined TVD '", config_.tvd, "' (key epoch ", grant_->key_epoch,
            ", ", grant_->members.size(), " other members)");
  return Status::Ok();
}

Status TvdProxy::ProgramNetwork(const std::vector<Member>& members) {
  const policy::TvdPolicy& pol = grant_->policy;
  vswitch::TvdSpec spec;
  spec.tvd = pol.name;
  spec.tvd_id = pol.id;
  for (const policy::Network& n : pol.networks) {
    spec.networks.push_back({n.name, n.vni});
  }
  if (!pol.transport.ike_proposal.empty()) {
    spec.ike_proposals.push_back(pol.transport.ike_proposal);
  }
  if (!pol.transport.esp_proposal.empty()) {
    spec.esp_proposals.push_back(pol.transport.esp_proposal);
  }
  // The PSKs live only for the duration of the call.
  std::vector<SecureBytes> psks;
  psks.reserve(members.size());
  for (const Member& m : members) {
    if (m.host == config_.local_host) continue;
    TVD_ASSIGN_OR_RETURN(
        SecureBytes psk,
        protocol::DeriveTunnelPsk(grant_->tvd_key, pol.name, config_.local_host,
                                  m.host, grant_->key_epoch));
    psks.push_back(std::move(psk));
    spec.peers.push_back({m.host, m.address, &psks.back()});
  }
  return network_.JoinTvd(spec);
}

Status TvdProxy::RemoveStalePorts(const AdmissionRecord& record) {
  const std::string where =
      "removing VM ports of TVD '" + config_.tvd + "' that were not admitted";
  auto listed = network_.ListVmPorts(config_.tvd);
  if (!listed.ok()) return listed.status().WithContext(where);
  // Recorded (tap -> VM, network): a port is kept only when all three match,
  // so a recorded tap name reused for another VM or network is stale too
  // (the re-plug then creates it as recorded).
  std::map<std::string, std::pair<std::string, std::string>> recorded;
  for (const auto& [name, vm] : record.vms) {
    for (const AdmittedPort& p : vm.ports) {
      recorded[p.port] = {vm.name, p.network};
    }
  }
  for (const vswitch::VmPortInfo& port : *listed) {
    auto r = recorded.find(port.port);
    if (r != recorded.end() && r->second.first == port.vm &&
        r->second.second == port.network) {
      continue;
    }
    log::Warning("TVD '", config_.tvd, "': port ", port.port, " of VM '",
                 port.vm, "' (network '", port.network,
                 "') is not a port of an admitted VM; unplugging it");
    Status s = network_.UnplugVmPort(port.port);
    if (!s.ok() && s.code() != ErrorCode::kNotFound) {
      return s.WithContext(where + ": unplugging " + port.port);
    }
  }
  return Status::Ok();
}

Status TvdProxy::ReplugAdmitted(AdmissionRecord record) {
  admitted_ = record;
  TVD_ASSIGN_OR_RETURN(auto domains, hypervisor_.ListDomains());
  std::map<std::string, const DomainSummary*> by_name;
  for (const DomainSummary& d : domains) by_name[d.name] = &d;
  bool dropped = false;
  for (auto it = record.vms.begin(); it != record.vms.end();) {
    const AdmittedVm& a = it->second;
    auto d = by_name.find(a.name);
    if (d == by_name.end() || d->second->uuid != a.uuid) {
      // Not the domain that was admitted: whatever has its name now was
      // never measured.
      log::Warning(
          "TVD '", config_.tvd, "': admitted VM '", a.name, "' (", a.uuid, ") ",
          d == by_name.end() ? std::string("is gone")
                             : "was replaced by domain " + d->second->uuid,
          "; dropped from the admission record, no port");
      for (const AdmittedPort& p : a.ports) {
        Status s = network_.UnplugVmPort(p.port);
        if (!s.ok() && s.code() != ErrorCode::kNotFound) {
          log::Warning("unplugging port ", p.port, ": ", s.ToString());
        }
      }
      it = record.vms.erase(it);
      dropped = true;
      continue;
    }
    AttachedVm vm;
    vm.uuid = a.uuid;
    for (const AdmittedPort& p : a.ports) {
      vswitch::VmPortSpec port{p.port, config_.tvd, p.network,
                               a.name, p.mac,       ""};
      Status s = network_.PlugVmPort(port);
      if (!s.ok()) {
        log::Warning("re-plugging port ", p.port, " of VM '", a.name,
                     "': ", s.ToString());
      }
      vm.ports.push_back(p.port);
    }
    log::Info("TVD '", config_.tvd, "': re-plugged admitted VM '", a.name, "'");
    vms_[a.name] = std::move(vm);
    ++it;
  }
  for (const DomainSummary& d : domains) {
    if (d.owner_tvd == config_.tvd && !vms_.contains(d.name)) {
      log::Warning("TVD '", config_.tvd, "': domain '", d.name, "' (", d.uuid,
                   ") was not admitted by this proxy; it gets no port");
    }
  }
  if (!dropped) return Status::Ok();
  admitted_ = record;
  return admissions_.Save(record);
}

StatusOr<nlohmann::json> TvdProxy::Attach(const std::string& vm_config_path) {
  if (!grant_) {
    return FailedPrecondition("not a member of TVD '" + config_.tvd +
                              "'; join it first");
  }
  const policy::TvdPolicy& pol = grant_->policy;
  // One read: the bytes measured are the bytes given to libvirt.
  TVD_ASSIGN_OR_RETURN(
      std::string xml,
      ReadSmallFile(vm_config_path, config_.max_vm_config_bytes));
  TVD_ASSIGN_OR_RETURN(
      policy::VmConfig vm,
      policy::ParseVmConfig(xml, vm_config_path, policy::VmConfigMode::kFinal));
  if (vm.tvd.owner != config_.tvd) {
    return PermissionDenied("VM '" + vm.name + "' belongs to TVD '" +
                            vm.tvd.owner + "', not '" + config_.tvd +
                            "'; attach it through TVD '" + vm.tvd.owner + "'");
  }
  if (vms_.contains(vm.name)) {
    return AlreadyExists("VM '" + vm.name + "' is already attached to TVD '" +
                         config_.tvd + "'");
  }
  TVD_RETURN_IF_ERROR(CheckVnetsInOwnTvd(vm, pol));
  TVD_ASSIGN_OR_RETURN(bool own_tpm, HasTpmDevice(xml));
  if (own_tpm) {
    return PermissionDenied(
        "VM '" + vm.name +
        "': the domain has a <tpm> device of its own; a TVD VM gets a vTPM "
        "only from <tvd:vtpm/>, which the proxy turns into one");
  }
  TVD_ASSIGN_OR_RETURN(bool own_channel, HasAttestChannel(xml));
  if (own_channel) {
    return PermissionDenied(
        "VM '" + vm.name + "': the domain has a channel to port " +
        attest::kGuestAttestPort +
        " of its own; the proxy adds that channel with the vTPM");
  }
  TVD_RETURN_IF_ERROR(AdmitVm(vm, pol, cache_));

  // Ports: every vnet of this TVD needs a MAC for the anti-spoofing flows,
  // and gets a tap named by the proxy.
  TVD_ASSIGN_OR_RETURN(auto macs, InterfaceMacs(xml));
  std::vector<vswitch::VmPortSpec> ports;
  std::map<std::string, std::string> tap_by_target;
  nlohmann::json nics = nlohmann::json::array();
  for (std::size_t i = 0; i < vm.tvd.vnets.size(); ++i) {
    const policy::VnetBinding& b = vm.tvd.vnets[i];
    if (pol.FindNetwork(*b.network) == nullptr) {
      return PermissionDenied("VM '" + vm.name + "': vnet '" + b.target +
                              "' is bound to network '" + *b.network +
                              "', which is not a network of TVD '" +
                              config_.tvd + "'");
    }
    auto mac = macs.find(b.target);
    if (mac == macs.end() || mac->second.empty()) {
      return InvalidArgument("VM '" + vm.name + "': interface '" + b.target +
                             "' has no <mac address=...>; the anti-spoofing "
                             "flows need a fixed MAC");
    }
    std::string mac_address = mac->second;
    for (char& c : mac_address) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!IsAdmissionMac(mac_address)) {
      return InvalidArgument("VM '" + vm.name + "': interface '" + b.target +
                             "' has MAC '" + mac->second +
                             "'; expected the form aa:bb:cc:dd:ee:ff");
    }
    std::string tap = TapName(config_.tvd, pol.id, vm.name, i);
    for (const auto& [other, admitted] : admitted_.vms) {
      for (const AdmittedPort& p : admitted.ports) {
        if (p.port == tap) {
          return Internal("VM '" + vm.name + "': tap name " + tap +
                          " is already the port of VM '" + other + "'");
        }
      }
    }
    tap_by_target[b.target] = tap;
    nics.push_back(
        {{"target", b.target}, {"port", tap}, {"network", *b.network}});
    ports.push_back({tap, config_.tvd, *b.network, vm.name, mac_address, ""});
  }
  // The configuration names NICs, never host devices: a target naming an
  // existing link (the uplink, another VM's tap) is refused, so nothing of
  // the host can be mistaken for this VM's NIC.
  for (const std::string& target : vm.interface_targets) {
    bool own = false;
    for (const auto& [t, tap] : tap_by_target) own = own || tap == target;
    if (own) continue;
    auto exists = network_.LinkExists(target);
    if (!exists.ok()) {
      return exists.status().WithContext(
          "VM '" + vm.name + "': looking up host link '" + target + "'");
    }
    if (*exists) {
      return PermissionDenied(
          "VM '" + vm.name + "': interface target '" + target +
          "' names an existing host link; the proxy names VM taps itself, "
          "so a VM configuration must not name a device of the host");
    }
  }

  // Disk keys: fetched, handed to libvirt, dropped. A missing encrypted
  // disk with a create size is created here (only a member holding the
  // key can); it is removed again if the attach fails.
  // Secrets under this VM's usage now are left by an attach that died
  // before recording it (the VM is not attached, so no admitted domain
  // uses them); libvirt keeps one secret per usage, so they go first.
  if (!vm.tvd.encrypted_disks.empty() || vm.tvd.vtpm) {
    Status stale = RemoveSecrets(SecretPrefix(vm.name));
    if (!stale.ok()) {
      return stale.WithContext("VM '" + vm.name +
                               "': removing its stale disk secrets");
    }
  }
  std::map<std::string, std::string> secret_by_disk;
  std::vector<std::string> created_disks;
  std::string vtpm_uuid;  // the domain UUID whose vTPM state this made
  auto undo = [&] {       // secrets, created disks and vTPM state of this VM
    Status s = RemoveSecrets(SecretPrefix(vm.name));
    if (!s.ok()) log::Warning("removing secrets: ", s.ToString());
    if (!vtpm_uuid.empty()) {
      Status v = vtpms_->Remove(vtpm_uuid);
      if (!v.ok()) log::Warning("removing vTPM state: ", v.ToString());
    }
    for (const std::string& path : created_disks) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      if (ec) log::Warning("removing created disk ", path, ": ", ec.message());
    }
  };
  for (const std::string& disk : vm.tvd.encrypted_disks) {
    const policy::DomainDisk* domain_disk = vm.FindDisk(disk);
    if (domain_disk == nullptr || !domain_disk->source_file) {
      undo();
      return InvalidArgument("VM '" + vm.name + "': encrypted disk '" + disk +
                             "' has no <source file=...>");
    }
    const std::string& path = *domain_disk->source_file;
    std::error_code ec;
    bool exists =
        std::filesystem::exists(std::filesystem::symlink_status(path, ec));
    auto create = vm.tvd.encrypted_disk_create_mib.find(disk);
    if (!exists && create == vm.tvd.encrypted_disk_create_mib.end()) {
      undo();
      return FailedPrecondition(
          "VM '" + vm.name + "': encrypted disk '" + disk + "' (" + path +
          ") does not exist; restore it, or give its <tvd:encryption> a "
          "create-mib size to have the proxy create an empty one");
    }
    auto key = master_.RequestDiskKey(config_.tvd, vm.name);
    if (!key.ok()) {
      undo();
      return key.status().WithContext("VM '" + vm.name + "': disk key for '" +
                                      disk + "'");
    }
    SecureBytes passphrase = DiskPassphrase(*key);
    key->Clear();
    if (!exists) {
      Status made =
          hypervisor_.CreateEncryptedDisk(path, create->second, passphrase);
      if (!made.ok()) {
        passphrase.Clear();
        undo();
        return made.WithContext("VM '" + vm.name + "': creating disk '" + disk +
                                "'");
      }
      created_disks.push_back(path);
      log::Info("TVD '", config_.tvd, "': created encrypted disk ", path, " (",
                create->second, " MiB) for VM '", vm.name, "'");
    }
    auto uuid =
        hypervisor_.DefineSecret(SecretPrefix(vm.name) + disk, passphrase);
    passphrase.Clear();
    if (!uuid.ok()) {
      undo();
      return uuid.status().WithContext("VM '" + vm.name + "': secret for '" +
                                       disk + "'");
    }
    secret_by_disk[disk] = *uuid;
  }
  // The vTPM (<tvd:vtpm/>): its state made here, encrypted with the key the
  // master releases, its EK and AK recorded at the master, all before the
  // VM first runs (docs/host.md "vTPMs").
  nlohmann::json vtpm_json = nullptr;
  std::string vtpm_secret;
  if (vm.tvd.vtpm) {
    auto made = MakeVtpm(vm, vtpm_uuid, vtpm_secret);
    if (!made.ok()) {
      undo();
      return made.status().WithContext("VM '" + vm.name + "': vTPM");
    }
    vtpm_json = std::move(*made);
  }
  // The measured bytes stay as written; libvirt gets them with the disk
  // secrets, the proxy's tap names and the vTPM.
  auto final_xml = WithDiskSecrets(xml, secret_by_disk);
  if (final_xml.ok()) final_xml = WithTapNames(*final_xml, tap_by_target);
  if (final_xml.ok() && vm.tvd.vtpm) {
    final_xml = WithVtpm(*final_xml, vtpm_uuid, vtpm_secret);
  }
  if (!final_xml.ok()) {
    undo();
    return final_xml.status();
  }
  Status started = hypervisor_.DefineAndStart(*final_xml);
  if (!started.ok()) {
    undo();
    return started.WithContext("VM '" + vm.name + "': starting");
  }
  AttachedVm record;
  auto domains = hypervisor_.ListDomains();
  if (domains.ok()) {
    for (const DomainSummary& d : *domains) {
      if (d.name == vm.name) record.uuid = d.uuid;
    }
  }
  // Recorded before it gets a port: a proxy that dies between the two
  // re-plugs it on restart; one that dies before leaves it portless.
  AdmittedVm admitted{vm.name, record.uuid, ToHex(vm.ConfigDigest()), {}};
  for (const vswitch::VmPortSpec& p : ports) {
    admitted.ports.push_back({p.port, p.network, p.mac});
  }
  Status saved =
      record.uuid.empty()
          ? Internal("libvirt lists no domain '" + vm.name + "' after start")
          : Status::Ok();
  if (saved.ok()) {
    AdmissionRecord next = admitted_;
    next.tvd = config_.tvd;
    next.vms[vm.name] = admitted;
    saved = admissions_.Save(next);
    if (saved.ok()) admitted_ = std::move(next);
  }
  if (!saved.ok()) {
    (void)hypervisor_.DestroyAndUndefine(vm.name);
    undo();
    return saved.WithContext("VM '" + vm.name + "': recording its admission");
  }
  for (const vswitch::VmPortSpec& p : ports) {
    Status s = network_.PlugVmPort(p);
    if (!s.ok()) {
      for (const std::string& done : record.ports) {
        (void)network_.UnplugVmPort(done);
      }
      (void)hypervisor_.DestroyAndUndefine(vm.name);
      undo();
      AdmissionRecord next = admitted_;
      next.vms.erase(vm.name);
      Status unrecord = admissions_.Save(next);
      if (unrecord.ok()) {
        admitted_ = std::move(next);
      } else {
        log::Warning("TVD '", config_.tvd, "': removing VM '", vm.name,
                     "' from the admission record: ", unrecord.ToString());
      }
      return s.WithContext("VM '" + vm.name + "': plugging '" + p.port + "'");
    }
    record.ports.push_back(p.port);
  }
  nlohmann::json result = {{"vm", vm.name},
                           {"uuid", record.uuid},
                           {"ports", record.ports},
                           {"nics", nics},
                           {"encrypted_disks", vm.tvd.encrypted_disks},
                           {"vtpm", vtpm_json}};
  Report(vm.name, record.uuid, true);
  vms_[vm.name] = std::move(record);
  log::Info("TVD '", config_.tvd, "': attached VM '", vm.name, "'");
  return result;
}

StatusOr<nlohmann::json> TvdProxy::MakeVtpm(const policy::VmConfig& vm,
                                            std::string& uuid,
                                            std::string& secret) {
  if (vtpms_ == nullptr) {
    return FailedPrecondition(
        "this host's proxy has no vTPM storage configured (tvd-proxy "
        "--vtpm-storage-dir)");
  }
  std::string domain_uuid = vm.uuid ? Lower(*vm.uuid) : NewUuid();
  // The state directory is named by the domain's UUID: one that another
  // domain has is never touched (a configuration naming another domain's
  // UUID would otherwise replace that domain's vTPM).
  TVD_ASSIGN_OR_RETURN(auto domains, hypervisor_.ListDomains());
  for (const DomainSummary& d : domains) {
    if (Lower(d.uuid) == domain_uuid) {
      return AlreadyExists("domain with UUID '" + domain_uuid +
                           "' already exists as '" + d.name + "'");
    }
  }
  // No domain has it: a state there is left by an attach that died.
  TVD_RETURN_IF_ERROR(vtpms_->Remove(domain_uuid));
  TVD_ASSIGN_OR_RETURN(SecureBytes key,
                       master_.RequestVtpmKey(config_.tvd, vm.name));
  SecureBytes passphrase = DiskPassphrase(key);
  key.Clear();
  auto publics = vtpms_->Create(domain_uuid, passphrase);
  if (!publics.ok()) {
    passphrase.Clear();
    return publics.status();
  }
  uuid = domain_uuid;  // from here on, the caller's undo removes the state
  auto secret_uuid =
      hypervisor_.DefineVtpmSecret(SecretPrefix(vm.name) + "#vtpm", passphrase);
  passphrase.Clear();
  if (!secret_uuid.ok()) return secret_uuid.status();
  secret = *secret_uuid;
  Status recorded = master_.RecordVtpm(config_.tvd, vm.name, publics->ek_public,
                                       publics->ak_public);
  if (!recorded.ok()) return recorded.WithContext("recording it at the master");
  log::Info("TVD '", config_.tvd, "': made the vTPM of VM '", vm.name,
            "' (EK sha256 ", ToHex(Sha256(publics->ek_public)), ")");
  return nlohmann::json{{"uuid", domain_uuid},
                        {"ek_sha256", ToHex(Sha256(publics->ek_public))},
                        {"ak_sha256", ToHex(Sha256(publics->ak_public))}};
}

Status TvdProxy::RemoveSecrets(const std::string& usage_prefix) {
  TVD_ASSIGN_OR_RETURN(auto uuids, hypervisor_.ListSecrets(usage_prefix));
  Status first;
  for (const std::string& uuid : uuids) {
    Status s = hypervisor_.UndefineSecret(uuid);
    if (s.code() != ErrorCode::kNotFound) KeepFirst(first, s);
  }
  return first;
}

Status TvdProxy::Detach(const std::string& vm) {
  if (!grant_) {
    return FailedPrecondition("not a member of TVD '" + config_.tvd + "'");
  }
  return DetachVm(vm);
}

Status TvdProxy::DetachVm(const std::string& vm, bool report) {
  auto it = vms_.find(vm);
  if (it == vms_.end()) {
    return NotFound("VM '" + vm + "' is not attached to TVD '" + config_.tvd +
                    "' on this host (see 'tvdctl status')");
  }
  Status first;
  for (const std::string& port : it->second.ports) {
    Status s = network_.UnplugVmPort(port);
    if (s.code() != ErrorCode::kNotFound) KeepFirst(first, s);
  }
  Status d = hypervisor_.DestroyAndUndefine(vm);
  if (d.code() != ErrorCode::kNotFound) KeepFirst(first, d);
  KeepFirst(first, RemoveSecrets(SecretPrefix(vm)));
  // libvirt removes a vTPM's state with its domain; it is checked gone here
  // (and removed if libvirt left it).
  if (vtpms_ != nullptr && !it->second.uuid.empty()) {
    KeepFirst(first, vtpms_->Remove(Lower(it->second.uuid)));
  }
  vms_.erase(it);
  if (admitted_.vms.contains(vm)) {
    AdmissionRecord next = admitted_;
    next.vms.erase(vm);
    Status saved = admissions_.Save(next);
    if (saved.ok()) admitted_ = std::move(next);
    KeepFirst(first, saved);
  }
  log::Info("TVD '", config_.tvd, "': detached VM '", vm, "'");
  if (report) Report(vm, "", false);
  return first;
}

void TvdProxy::Report(const std::string& vm, const std::string& uuid,
                      bool attached) {
  Status s = master_.ReportVm(config_.tvd, vm, uuid, attached);
  if (s.ok()) {
    unreported_.erase(vm);
    return;
  }
  // The VM runs (or is gone) regardless; the master's view catches up at
  // the next reconnect.
  log::Warning("TVD '", config_.tvd, "': reporting VM '", vm, "' ",
               attached ? "attached" : "detached",
               " to the master: ", s.ToString(), " (will retry on reconnect)");
  unreported_[vm] = {uuid, attached};
}

void TvdProxy::FlushReports() {
  auto pending = unreported_;
  for (const auto& [vm, state] : pending) {
    Report(vm, state.first, state.second);
  }
}

Status TvdProxy::Leave() {
  if (!grant_) {
    return FailedPrecondition("not a member of TVD '" + config_.tvd + "'");
  }
  Status first;
  std::vector<std::string> names;
  for (const auto& [name, vm] : vms_) names.push_back(name);
  for (const std::string& name : names) {
    KeepFirst(first, DetachVm(name, /*report=*/false));
  }
  unreported_.clear();
  // Domains of this TVD the proxy did not know about are destroyed too.
  auto domains = hypervisor_.ListDomains();
  if (domains.ok()) {
    for (const DomainSummary& d : *domains) {
      if (d.owner_tvd == config_.tvd) {
        Status s = hypervisor_.DestroyAndUndefine(d.name);
        if (s.code() != ErrorCode::kNotFound) KeepFirst(first, s);
        if (vtpms_ != nullptr && !d.uuid.empty()) {
          KeepFirst(first, vtpms_->Remove(Lower(d.uuid)));
        }
      }
    }
  } else {
    KeepFirst(first, domains.status());
  }
  KeepFirst(first, RemoveSecrets(SecretPrefix("")));
  Status net = network_.LeaveTvd(config_.tvd);
  if (net.code() != ErrorCode::kNotFound) KeepFirst(first, net);
  KeepFirst(first, master_.Leave(config_.tvd));
  KeepFirst(first, admissions_.Remove());
  admitted_.vms.clear();
  grant_->tvd_key.Clear();
  grant_.reset();
  vms_.clear();
  left_ = true;
  log::Info("left TVD '", config_.tvd, "'");
  return first;
}

void TvdProxy::OnMasterUpdate(const MasterUpdate& update) {
  if (!grant_) return;
  if (update.kind == MasterUpdate::Kind::kEvicted) {
    log::Warning("evicted from TVD '", config_.tvd, "': ", update.reason);
    Status s = Leave();
    if (!s.ok()) log::Error("leaving after eviction: ", s.ToString());
    return;
  }
  if (update.kind == MasterUpdate::Kind::kGuestQuote) {
    AnswerGuestQuote(update.guest_quote);
    return;
  }
  if (update.kind == MasterUpdate::Kind::kPolicy) {
    if (!update.policy || update.policy->name != config_.tvd) return;
    grant_->policy = *update.policy;
    Status s = ProgramNetwork(grant_->members);
    network_pending_ = !s.ok();
    last_network_try_ = clock_->Now();
    if (!s.ok()) {
      log::Error("TVD '", config_.tvd,
                 "': applying the new policy: ", s.ToString());
    }
    log::Info("TVD '", config_.tvd, "': policy updated");
    return;
  }
  // A rejoin (after the master restarted or another replica took over)
  // repeats the whole grant: when epoch, key and members are what the host
  // already has and its networks are programmed, nothing on the host
  // changes (no rekey, no reprogramming). While a programming is pending,
  // any update tries again at once, as it always did.
  const bool rekey =
      !update.key.empty() && (update.key_epoch != grant_->key_epoch ||
                              !update.key.Equals(grant_->tvd_key.view()));
  if (!rekey && !network_pending_ &&
      SameMembers(update.members, grant_->members, config_.local_host)) {
    log::Info("TVD '", config_.tvd, "': membership unchanged (key epoch ",
              grant_->key_epoch, ", ", grant_->members.size(), " members)");
    FlushReports();
    return;
  }
  grant_->members = update.members;
  if (rekey) {  // the master rekeyed the TVD
    grant_->tvd_key = update.key.Clone();
    grant_->key_epoch = update.key_epoch;
  }
  Status s = ProgramNetwork(grant_->members);
  network_pending_ = !s.ok();
  last_network_try_ = clock_->Now();
  if (!s.ok()) {
    log::Error("TVD '", config_.tvd, "': applying new members: ", s.ToString(),
               " (retrying)");
  }
  // A member update also follows every reconnect to the master.
  FlushReports();
}

void TvdProxy::AnswerGuestQuote(const protocol::GuestQuoteOrder& order) {
  protocol::GuestQuoteReport report{order.id, order.tvd, order.vm, "", ""};
  StatusOr<attest::GuestQuoteAnswer> answer = [&] {
    if (order.tvd != config_.tvd) {
      return StatusOr<attest::GuestQuoteAnswer>(
          PermissionDenied("the proxy of TVD '" + config_.tvd +
                           "' got an order for TVD '" + order.tvd + "'"));
    }
    if (!vms_.contains(order.vm)) {
      return StatusOr<attest::GuestQuoteAnswer>(
          NotFound("VM '" + order.vm + "' of TVD '" + config_.tvd +
                   "' is not attached on host " + config_.local_host));
    }
    return hypervisor_.AskGuestForQuote(
        order.vm, attest::GuestQuoteRequest{order.nonce, order.pcrs},
        config_.guest_quote_timeout);
  }();
  StatusOr<std::string> line =
      answer.ok() ? attest::FormatGuestQuoteAnswer(*answer)
                  : StatusOr<std::string>(answer.status());
  if (line.ok()) {
    report.answer = std::move(line).value();
  } else {
    report.error = line.status().message().substr(0, protocol::kMaxReason);
    log::Warning("TVD '", config_.tvd, "': guest quote of VM '", order.vm,
                 "': ", line.status().ToString());
  }
  Status s = master_.ReportGuestQuote(report);
  if (!s.ok()) {
    log::Warning("TVD '", config_.tvd, "': reporting the guest quote of VM '",
                 order.vm, "': ", s.ToString());
  }
}

bool TvdProxy::RetryPendingNetwork(std::chrono::milliseconds retry_interval) {
  if (!grant_ || !network_pending_) return false;
  auto now = clock_->Now();
  if (now - last_network_try_ < retry_interval) return false;
  last_network_try_ = now;
  Status s = ProgramNetwork(grant_->members);
  network_pending_ = !s.ok();
  if (!s.ok()) {
    log::Warning("TVD '", config_.tvd,
                 "': programming the networks again: ", s.ToString());
    return false;
  }
  log::Info("TVD '", config_.tvd, "': networks programmed");
  return true;
}

nlohmann::json TvdProxy::StatusJson() {
  nlohmann::json j = {{"tvd", config_.tvd}, {"joined", grant_.has_value()}};
  if (grant_) {
    j["policy_digest"] = ToHex(policy::CanonicalDigest(grant_->policy));
    j["key_epoch"] = grant_->key_epoch;
    nlohmann::json members = nlohmann::json::array();
    for (const Member& m : grant_->members) {
      members.push_back({{"host", m.host}, {"address", m.address}});
    }
    j["members"] = members;
  }
  nlohmann::json vms = nlohmann::json::array();
  for (const auto& [name, vm] : vms_) {
    vms.push_back({{"name", name}, {"uuid", vm.uuid}, {"ports", vm.ports}});
  }
  j["vms"] = vms;
  j["unreported_vms"] = unreported_.size();
  return j;
}

host::ControlResponse TvdProxy::Handle(const host::ControlRequest& request) {
  host::ControlResponse r;
  if (!request.tvd.empty() && request.tvd != config_.tvd) {
    r.status = InvalidArgument("this proxy serves TVD '" + config_.tvd +
                               "', not '" + request.tvd + "'");
    return r;
  }
  switch (request.op) {
    case host::ControlOp::kJoin:
      r.status = Join();
      break;
    case host::ControlOp::kLeave:
      r.status = Leave();
      break;
    case host::ControlOp::kAttach: {
      auto res = Attach(request.vm_config);
      if (res.ok()) {
        r.result = *res;
      } else {
        r.status = res.status();
      }
      break;
    }
    case host::ControlOp::kDetach:
      r.status = Detach(request.vm);
      break;
    case host::ControlOp::kStatus:
      r.result = StatusJson();
      break;
    case host::ControlOp::kUsage:
      // Quota claims have their own socket (usage_claims.h), so they never
      // wait behind an attach.
      r.status = InvalidArgument(
          "op 'usage' is served on the proxy's usage socket only");
      break;
  }
  if (r.status.ok() && !r.result.is_object()) {
    r.result = nlohmann::json::object();
  }
  return r;
}

}  // namespace tvd::proxy

#include "tvd/tvdctl/policy_summary.h"

#include <iomanip>
#include <sstream>

#include "tvd/policy/canonical.h"

namespace tvd::tvdctl {

namespace {

using namespace tvd::policy;

std::string Digest(const std::optional<tvd::Sha256Digest>& d) {
  return d ? tvd::ToHex(*d) : "(not measured: template)";
}

void Measures(std::ostream& o, const std::vector<Measurement>& measures,
              std::string_view indent) {
  for (const Measurement& m : measures) {
    std::string what(MeasureTypeName(m.type));
    if (!m.target.empty()) what += " " + m.target;
    o << indent << what
      << std::string(what.size() < 12 ? 12 - what.size() : 1, ' ')
      << Digest(m.sha256) << "\n";
  }
}

void HostRequirementsSummary(std::ostream& o, const HostRequirements& hr,
                             std::string_view indent) {
  o << indent
    << "hosts without TPM: " << (hr.allow_no_tpm ? "allowed" : "refused")
    << "\n";
  o << indent << "re-attestation every " << hr.attestation_interval_seconds
    << " s\n";
  for (const PcrRequirement& p : hr.pcrs) {
    o << indent << "PCR " << p.bank << ":" << p.index << " known-good:\n";
    for (const auto& v : p.known_good) {
      o << indent << "  " << tvd::ToHex(v) << "\n";
    }
  }
  if (hr.ima_allowlist) {
    o << indent << "IMA allowlist " << hr.ima_allowlist->path << " sha256 "
      << tvd::ToHex(hr.ima_allowlist->sha256) << "\n";
  }
  if (hr.measured_boot) {
    const MeasuredBootRequirement& mb = *hr.measured_boot;
    o << indent << "measured boot (PCRs 0-7 by event log), Secure Boot "
      << (mb.require_secure_boot ? "required" : "not required") << ":\n";
    auto list = [&](std::string_view what,
                    const std::vector<tvd::Sha256Digest>& digests) {
      for (const tvd::Sha256Digest& d : digests) {
        o << indent << "  " << what << " " << tvd::ToHex(d) << "\n";
      }
    };
    list("firmware", mb.firmware);
    list("shim", mb.shim);
    list("bootloader", mb.bootloader);
    list("kernel", mb.kernel);
    list("PK", mb.pk);
    list("KEK", mb.kek);
    list("db", mb.db);
    list("dbx", mb.dbx);
    for (const MeasuredBootRequirement::Event& e : mb.events) {
      o << indent << "  event PCR " << e.pcr << " type 0x" << std::hex
        << std::setw(8) << std::setfill('0') << e.type << std::dec
        << std::setfill(' ') << " " << tvd::ToHex(e.sha256) << "\n";
    }
  }
}

void TvdSummary(std::ostream& o, const TvdPolicy& p) {
  o << "TVD policy '" << p.name << "' (id " << p.id << ")\n";
  o << "  digest   " << tvd::ToHex(CanonicalDigest(p)) << "\n";
  o << "  owner    " << p.owner << "\n";
  o << "  networks:\n";
  for (const Network& n : p.networks) {
    o << "    " << n.name << "  " << NetworkKindName(n.kind) << "  vni "
      << n.vni;
    if (n.subnet) o << "  subnet " << *n.subnet;
    o << "\n";
  }
  o << "  transport: IPsec IKE " << p.transport.ike_proposal << ", ESP "
    << p.transport.esp_proposal << "\n";
  o << "  host requirements:\n";
  HostRequirementsSummary(o, p.host_requirements, "    ");
  o << "  authorized hosts:" << (p.authorized_hosts.empty() ? " none" : "")
    << "\n";
  for (const std::string& h : p.authorized_hosts) o << "    " << h << "\n";
  o << "  VMs:" << (p.vms.empty() ? " none" : "") << "\n";
  for (const VmKnownGood& v : p.vms) {
    o << "    " << v.vm
      << (p.ReleasesDiskKeyTo(v.vm) ? "  (gets a disk key)" : "")
      << (p.GrantsVtpmTo(v.vm) ? "  (gets a vTPM)" : "") << "\n";
    Measures(o, v.measures, "      ");
  }
  for (const auto& [label, q] :
       {std::pair{"quota per host:", &p.per_host_quota},
        std::pair{"quota in total:", &p.total_quota}}) {
    o << "  " << label;
    if (q->empty()) o << " none";
    if (q->domains) o << "  " << *q->domains << " domains";
    if (q->vcpus) o << "  " << *q->vcpus << " vCPUs";
    if (q->memory_mib) o << "  " << *q->memory_mib << " MiB memory";
    if (q->disk_gib) o << "  " << *q->disk_gib << " GiB disk";
    o << "\n";
  }
  o << "  gateways:" << (p.gateways.empty() ? " none" : "") << "\n";
  for (const GatewayRule& g : p.gateways) {
    o << "    VM " << g.vm << " may connect to TVD " << g.peer << " (if "
      << g.peer << "'s policy agrees)\n";
  }
}

void VmSummary(std::ostream& o, const VmConfig& vm) {
  o << (vm.IsTemplate() ? "VM template" : "VM configuration") << " '" << vm.name
    << "' of TVD '" << vm.tvd.owner << "'\n";
  o << "  digest   " << tvd::ToHex(CanonicalDigest(vm)) << "\n";
  o << "  config   " << tvd::ToHex(vm.ConfigDigest())
    << " (canonical domain without TVD metadata)\n";
  if (vm.uuid) o << "  uuid     " << *vm.uuid << "\n";
  if (vm.kernel_path) o << "  kernel   " << *vm.kernel_path << "\n";
  if (vm.initrd_path) o << "  initrd   " << *vm.initrd_path << "\n";
  for (const DomainDisk& d : vm.disks) {
    o << "  disk     " << d.target << "  "
      << (d.source_file ? *d.source_file : "(no image yet)") << "\n";
  }
  o << "  measures:\n";
  Measures(o, vm.tvd.measures, "    ");
  for (const std::string& d : vm.tvd.encrypted_disks) {
    o << "  encrypted disk " << d << "\n";
  }
  if (vm.tvd.vtpm) o << "  vtpm     yes\n";
  for (const VnetBinding& v : vm.tvd.vnets) {
    o << "  vnet     " << v.target << " -> "
      << (v.network ? *v.network : "(unbound: template)") << "\n";
  }
}

}  // namespace

std::string Summarize(const AnyPolicy& policy) {
  std::ostringstream o;
  if (const auto* p = std::get_if<TvdPolicy>(&policy)) {
    TvdSummary(o, *p);
  } else if (const auto* h = std::get_if<HostRequirements>(&policy)) {
    o << "Host requirements\n";
    o << "  digest   " << tvd::ToHex(CanonicalDigest(*h)) << "\n";
    HostRequirementsSummary(o, *h, "  ");
  } else {
    VmSummary(o, std::get<VmConfig>(policy));
  }
  return o.str();
}

}  // namespace tvd::tvdctl

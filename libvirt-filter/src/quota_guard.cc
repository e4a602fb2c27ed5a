#include "tvd/libvirt_filter/quota_guard.h"

#include <tinyxml2.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/mutex.h"
#include "tvd/policy/values.h"
#include "tvd/policy/xml_reader.h"
#include "tvd/text.h"

namespace tvd::libvirt_filter {

namespace {

using tinyxml2::XMLElement;
using tvd::policy::SaturatingAdd;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

// virDomainSetVcpusFlags / virDomainSetMemoryFlags flags.
constexpr std::uint32_t kAffectLive = 1;
constexpr std::uint32_t kAffectConfig = 2;
constexpr std::uint32_t kVcpuMaximum = 4;
constexpr std::uint32_t kVcpuGuest = 8;
constexpr std::uint32_t kMemMaximum = 4;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

// Bytes per unit as libvirt's virScaleInteger reads them (case-insensitive).
std::optional<std::uint64_t> UnitScale(std::string_view unit) {
  const std::string u = Lower(unit);
  if (u == "b" || u == "byte" || u == "bytes") return 1;
  const std::string_view prefixes = "kmgtpe";
  if (u.empty() || u.size() > 3) return std::nullopt;
  const std::size_t power = prefixes.find(u[0]);
  if (power == std::string_view::npos) return std::nullopt;
  std::uint64_t base;
  if (u.size() == 1 || u.substr(1) == "ib") {
    base = 1024;
  } else if (u.substr(1) == "b") {
    base = 1000;
  } else {
    return std::nullopt;
  }
  std::uint64_t scale = 1;
  for (std::size_t i = 0; i <= power; ++i) scale *= base;
  return scale;
}

// An amount of memory in KiB (rounded up, saturating) from `text` in `unit`
// (default KiB).
StatusOr<std::uint64_t> MemoryKib(const XMLElement* e, const char* text,
                                  const char* what) {
  const char* unit_attr = e->Attribute("unit");
  std::optional<std::uint64_t> scale =
      UnitScale(unit_attr != nullptr ? unit_attr : "KiB");
  std::optional<std::uint64_t> value = tvd::policy::ParseDecimal(
      TrimWhitespace(text != nullptr ? text : ""), 0, kMaxU64);
  if (!scale || !value) {
    return InvalidArgument(std::string("domain XML: <") + what +
                           "> is not an amount of memory");
  }
  __extension__ using U128 = unsigned __int128;
  const U128 bytes = static_cast<U128>(*value) * *scale;
  const U128 kib = bytes / 1024 + (bytes % 1024 != 0 ? 1 : 0);
  return kib > kMaxU64 ? kMaxU64 : static_cast<std::uint64_t>(kib);
}

// The first child `name` of `e` (libvirt refuses duplicates of the ones
// read here).
const XMLElement* Child(const XMLElement* e, const char* name) {
  return e != nullptr ? e->FirstChildElement(name) : nullptr;
}

}  // namespace

StatusOr<DomainCharge> ChargeOfDomainXml(std::string_view xml, bool active,
                                         DiskSizes& disks) {
  TVD_ASSIGN_OR_RETURN(std::unique_ptr<tinyxml2::XMLDocument> doc,
                       tvd::policy::ParseXml(xml, "domain XML"));
  const XMLElement* domain = doc->RootElement();
  if (domain == nullptr || std::string_view(domain->Name()) != "domain") {
    return InvalidArgument("domain XML: the root element is not <domain>");
  }
  DomainCharge c;
  c.active = active;
  if (const XMLElement* name = Child(domain, "name");
      name != nullptr && name->GetText() != nullptr) {
    c.name = name->GetText();
  }
  if (const XMLElement* uuid = Child(domain, "uuid");
      uuid != nullptr && uuid->GetText() != nullptr) {
    c.uuid = UuidFromString(uuid->GetText());
  }

  c.vcpus = 1;
  if (const XMLElement* vcpu = Child(domain, "vcpu")) {
    const char* current = vcpu->Attribute("current");
    const char* text = current != nullptr ? current : vcpu->GetText();
    std::optional<std::uint64_t> n = tvd::policy::ParseDecimal(
        TrimWhitespace(text != nullptr ? text : ""), 0, kMaxU64);
    if (!n) return InvalidArgument("domain XML: <vcpu> is not a count");
    c.vcpus = *n;
  }

  for (const char* name : {"memory", "currentMemory"}) {
    if (const XMLElement* m = Child(domain, name)) {
      TVD_ASSIGN_OR_RETURN(std::uint64_t kib, MemoryKib(m, m->GetText(), name));
      c.memory_kib = std::max(c.memory_kib, kib);
    }
  }
  std::uint64_t numa_kib = 0;
  for (const XMLElement* cpu = Child(domain, "cpu"); cpu != nullptr;
       cpu = cpu->NextSiblingElement("cpu")) {
    for (const XMLElement* numa = Child(cpu, "numa"); numa != nullptr;
         numa = numa->NextSiblingElement("numa")) {
      for (const XMLElement* cell = Child(numa, "cell"); cell != nullptr;
           cell = cell->NextSiblingElement("cell")) {
        TVD_ASSIGN_OR_RETURN(
            std::uint64_t kib,
            MemoryKib(cell, cell->Attribute("memory"), "cell memory"));
        numa_kib = SaturatingAdd(numa_kib, kib);
      }
    }
  }
  c.memory_kib = std::max(c.memory_kib, numa_kib);

  for (const XMLElement* devices = Child(domain, "devices"); devices != nullptr;
       devices = devices->NextSiblingElement("devices")) {
    for (const XMLElement* disk = Child(devices, "disk"); disk != nullptr;
         disk = disk->NextSiblingElement("disk")) {
      const char* device = disk->Attribute("device");
      if (device != nullptr && std::string_view(device) == "cdrom") continue;
      const XMLElement* source = Child(disk, "source");
      const char* file =
          source != nullptr ? source->Attribute("file") : nullptr;
      if (file == nullptr) continue;
      TVD_ASSIGN_OR_RETURN(std::uint64_t bytes, disks.SizeOf(file));
      c.disk_bytes = SaturatingAdd(c.disk_bytes, bytes);
    }
  }
  return c;
}

QuotaGuard::QuotaGuard(DomainDirectory& directory, OwnershipCache& cache,
                       DiskSizes& disks, TotalQuotaClaims* claims)
    : directory_(directory), cache_(cache), disks_(disks), claims_(claims) {}

QuotaGuard::Tenant& QuotaGuard::TenantFor(const std::string& tvd) {
  MutexLock lock(mu_);
  std::unique_ptr<Tenant>& t = tenants_[tvd];
  if (!t) t = std::make_unique<Tenant>();
  return *t;
}

StatusOr<TenantUsage> QuotaGuard::ReadUsage(
    const std::string& tvd, Tenant& /*tenant: its check is held*/) {
  TenantUsage usage;
  // Reservations first: one released after this line was answered by
  // libvirtd before, so the list below shows it. The other order could miss
  // a call answered between the two reads.
  {
    MutexLock lock(mu_);
    usage.reserved = reserved_[tvd];
  }
  StatusOr<std::vector<RemoteDomain>> all = directory_.ListAll(0);
  if (!all.ok()) {
    return Unavailable("cannot read the TVD's usage from libvirtd: " +
                       all.status().message());
  }
  for (const RemoteDomain& d : *all) {
    if (!cache_.Owns(tvd, d)) continue;
    StatusOr<std::string> xml = directory_.GetXmlDesc(d);
    if (!xml.ok()) {
      // Undefined since the list was taken: it holds nothing any more.
      if (xml.status().code() == ErrorCode::kNotFound) continue;
      return Unavailable("cannot read the TVD's usage from libvirtd: " +
                         xml.status().message());
    }
    TVD_ASSIGN_OR_RETURN(DomainCharge charge,
                         ChargeOfDomainXml(*xml, d.id != -1, disks_));
    charge.name = d.name;
    charge.uuid = d.uuid;
    usage.domains.push_back(std::move(charge));
  }
  return usage;
}

std::uint64_t QuotaGuard::Reserve(const std::string& tvd,
                                  const QuotaAmounts& adds) {
  if (adds == QuotaAmounts{}) return 0;
  MutexLock lock(mu_);
  reserved_[tvd] += adds;
  const std::uint64_t id = next_id_++;
  reservations_[id] = Reservation{tvd, adds};
  return id;
}

void QuotaGuard::Release(std::uint64_t reservation) {
  if (reservation == 0) return;
  MutexLock lock(mu_);
  auto it = reservations_.find(reservation);
  if (it == reservations_.end()) return;
  QuotaAmounts& r = reserved_[it->second.tvd];
  const QuotaAmounts& a = it->second.amounts;
  r.domains -= std::min(r.domains, a.domains);
  r.vcpus -= std::min(r.vcpus, a.vcpus);
  r.memory_kib -= std::min(r.memory_kib, a.memory_kib);
  r.disk_bytes -= std::min(r.disk_bytes, a.disk_bytes);
  reservations_.erase(it);
}

void QuotaGuard::Remember(const TenantScope& scope) {
  if (scope.total_quota.empty()) return;
  MutexLock lock(mu_);
  seen_.insert_or_assign(scope.tvd, scope);
}

Status QuotaGuard::ClaimTotal(const TenantScope& scope,
                              const TenantUsage& usage,
                              const QuotaAmounts& adds) {
  if (scope.total_quota.empty()) return Status::Ok();
  Remember(scope);
  bool limited = false;
  for (tvd::policy::QuotaKind kind : tvd::policy::kQuotaKinds) {
    limited = limited || (tvd::policy::AmountOf(adds, kind) > 0 &&
                          tvd::policy::LimitOf(scope.total_quota, kind));
  }
  if (!limited) return Status::Ok();
  if (claims_ == nullptr) {
    return Unavailable("no master path for the TVD's quota in total");
  }
  return claims_->Claim(scope.tvd, HeldOnHost(usage), adds);
}

void QuotaGuard::Answered(const TenantScope& scope, std::int32_t procedure) {
  if (scope.total_quota.empty()) return;
  switch (procedure) {
    case kProcDomainDefineXml:
    case kProcDomainDefineXmlFlags:
    case kProcDomainUndefine:
    case kProcDomainUndefineFlags:
    case kProcDomainCreate:
    case kProcDomainCreateWithFlags:
    case kProcDomainCreateXml:
    case kProcDomainDestroy:
    case kProcDomainDestroyFlags:
    case kProcDomainShutdown:
    case kProcDomainShutdownFlags:
    case kProcDomainSetVcpus:
    case kProcDomainSetVcpusFlags:
    case kProcDomainSetMemory:
    case kProcDomainSetMemoryFlags:
    case kProcDomainSetMaxMemory:
    case kProcDomainAttachDevice:
    case kProcDomainDetachDevice:
      break;
    default:
      return;
  }
  {
    MutexLock lock(mu_);
    seen_.insert_or_assign(scope.tvd, scope);
    due_.insert_or_assign(scope.tvd, scope);
  }
  due_changed_.NotifyAll();
}

std::vector<TenantScope> QuotaGuard::ReportsDue(
    std::chrono::steady_clock::time_point until,
    const std::vector<TenantScope>& all) {
  MutexLock lock(mu_);
  bool early = true;
  while (due_.empty() && !woken_) {
    if (!due_changed_.WaitUntil(mu_, until)) {
      early = !due_.empty() || woken_;
      break;
    }
  }
  std::map<std::string, TenantScope> out;
  if (!early) {
    out = seen_;
    for (const TenantScope& s : all) {
      if (!s.total_quota.empty()) out.insert_or_assign(s.tvd, s);
    }
  }
  for (auto& [tvd, scope] : due_) out.insert_or_assign(tvd, std::move(scope));
  due_.clear();
  woken_ = false;
  std::vector<TenantScope> scopes;
  for (auto& [tvd, scope] : out) scopes.push_back(std::move(scope));
  return scopes;
}

void QuotaGuard::Wake() {
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  due_changed_.NotifyAll();
}

Status QuotaGuard::ReportUsage(const TenantScope& scope) {
  if (scope.total_quota.empty()) return Status::Ok();
  if (claims_ == nullptr) {
    return Unavailable("no master path for the TVD's quota in total");
  }
  Tenant& tenant = TenantFor(scope.tvd);
  MutexLock check(tenant.check);
  TVD_ASSIGN_OR_RETURN(TenantUsage usage, ReadUsage(scope.tvd, tenant));
  return claims_->Claim(scope.tvd, HeldOnHost(usage), QuotaAmounts{});
}

QuotaAmounts QuotaGuard::reserved(const std::string& tvd) {
  MutexLock lock(mu_);
  auto it = reserved_.find(tvd);
  return it != reserved_.end() ? it->second : QuotaAmounts{};
}

StatusOr<std::uint64_t> QuotaGuard::AdmitDefine(const TenantScope& scope,
                                                std::string_view xml,
                                                bool start) {
  if (scope.quota.empty() && scope.total_quota.empty()) {
    return std::uint64_t{0};
  }
  TVD_ASSIGN_OR_RETURN(DomainCharge proposed,
                       ChargeOfDomainXml(xml, false, disks_));
  Tenant& tenant = TenantFor(scope.tvd);
  MutexLock check(tenant.check);
  TVD_ASSIGN_OR_RETURN(TenantUsage usage, ReadUsage(scope.tvd, tenant));
  TVD_ASSIGN_OR_RETURN(QuotaAmounts adds, CheckDefine(scope.tvd, scope.quota,
                                                      usage, proposed, start));
  TVD_RETURN_IF_ERROR(ClaimTotal(scope, usage, adds));
  return Reserve(scope.tvd, adds);
}

StatusOr<std::uint64_t> QuotaGuard::AdmitDomainCall(
    const TenantScope& scope, std::int32_t procedure,
    std::span<const std::uint8_t> args) {
  switch (procedure) {
    case kProcDomainCreate:
    case kProcDomainCreateWithFlags:
    case kProcDomainSetVcpus:
    case kProcDomainSetVcpusFlags:
    case kProcDomainSetMemory:
    case kProcDomainSetMemoryFlags:
    case kProcDomainSetMaxMemory:
      break;
    default:
      return std::uint64_t{0};
  }
  if (scope.quota.empty() && scope.total_quota.empty()) {
    return std::uint64_t{0};
  }
  XdrReader r(args);
  TVD_ASSIGN_OR_RETURN(RemoteDomain dom, ReadDomain(r));
  // What the call asks for, and whether it affects the running domain
  // (resolved against its state below).
  bool vcpus_call = false;
  std::uint64_t value = 0;
  std::uint32_t flags = 0;
  bool current = false;  // VIR_DOMAIN_AFFECT_CURRENT: live iff running
  bool maximum = false;
  switch (procedure) {
    case kProcDomainSetVcpus: {
      TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32("nvcpus"));
      vcpus_call = true;
      value = n;
      flags = kAffectLive;
      break;
    }
    case kProcDomainSetVcpusFlags: {
      TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32("nvcpus"));
      TVD_ASSIGN_OR_RETURN(flags, r.U32("flags"));
      vcpus_call = true;
      value = n;
      // The maximum is not charged (the current count is, and growing
      // it is checked); the guest agent's view moves no host resource.
      if (flags & (kVcpuMaximum | kVcpuGuest)) return std::uint64_t{0};
      break;
    }
    case kProcDomainSetMemory: {
      TVD_ASSIGN_OR_RETURN(value, r.U64("memory"));
      flags = kAffectLive;
      break;
    }
    case kProcDomainSetMemoryFlags: {
      TVD_ASSIGN_OR_RETURN(value, r.U64("memory"));
      TVD_ASSIGN_OR_RETURN(flags, r.U32("flags"));
      maximum = (flags & kMemMaximum) != 0;
      break;
    }
    case kProcDomainSetMaxMemory: {
      TVD_ASSIGN_OR_RETURN(value, r.U64("memory"));
      maximum = true;
      break;
    }
    default:
      break;
  }
  current = (flags & (kAffectLive | kAffectConfig)) == 0;

  Tenant& tenant = TenantFor(scope.tvd);
  MutexLock check(tenant.check);
  TVD_ASSIGN_OR_RETURN(TenantUsage usage, ReadUsage(scope.tvd, tenant));
  const DomainCharge* before = nullptr;
  for (const DomainCharge& d : usage.domains) {
    if (d.uuid == dom.uuid) before = &d;
  }
  // Not found: libvirtd will say so; nothing changes.
  if (before == nullptr) return std::uint64_t{0};
  QuotaAmounts adds;
  if (procedure == kProcDomainCreate ||
      procedure == kProcDomainCreateWithFlags) {
    TVD_ASSIGN_OR_RETURN(adds,
                         CheckStart(scope.tvd, scope.quota, usage, *before));
  } else {
    DomainCharge after = *before;
    if (vcpus_call) {
      after.vcpus = value;
    } else {
      after.memory_kib = maximum ? value : std::max(before->memory_kib, value);
    }
    const bool live = (flags & kAffectLive) != 0 || (current && before->active);
    const bool config =
        (flags & kAffectConfig) != 0 || (current && !before->active);
    if (live) {
      TVD_ASSIGN_OR_RETURN(adds, CheckResize(scope.tvd, scope.quota, usage,
                                             *before, after, true));
    }
    if (config) {
      // The persistent configuration may differ from the live one; it is
      // checked on its own (the start checks it against the rest).
      DomainCharge stopped = *before;
      stopped.active = false;
      TVD_ASSIGN_OR_RETURN(
          QuotaAmounts none,
          CheckResize(scope.tvd, scope.quota, usage, stopped, after, false));
      adds += none;
    }
  }
  TVD_RETURN_IF_ERROR(ClaimTotal(scope, usage, adds));
  return Reserve(scope.tvd, adds);
}

}  // namespace tvd::libvirt_filter

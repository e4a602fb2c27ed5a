// Fuzz target for the relay's packet decoder and every payload decoder it
// applies to tenant or libvirtd bytes, plus the stream assembler (fed in
// two pieces), the domain XML confinement and edits (disks, admission,
// UUID), and the quota charge and checks of any string payload.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tvd/libvirt_filter/disk_sizes.h"
#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/domain_xml_edit.h"
#include "tvd/libvirt_filter/quota_guard.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/libvirt_filter/rpc_packet.h"

using namespace tvd::libvirt_filter;

namespace {
// Sizes without touching the file system: any path has a size derived
// from its name, some of them huge (sums must saturate, not wrap).
class NameDiskSizes : public DiskSizes {
 public:
  tvd::StatusOr<std::uint64_t> SizeOf(const std::string& path) override {
    if (path.empty()) return tvd::InvalidArgument("empty path");
    return std::uint64_t{path.size()}
           << (static_cast<unsigned char>(path.back()) % 64);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  tvd::StatusOr<Packet> packet = DecodePacket(bytes);
  std::span<const std::uint8_t> payload =
      packet.ok()
          ? std::span<const std::uint8_t>(packet->payload)
          : (size > kMinPacketSize ? bytes.subspan(kMinPacketSize) : bytes);
  (void)DecodeError(payload);
  (void)DecodeDomainList(payload);
  (void)DecodeIdList(payload);
  (void)DecodeNameList(payload);
  (void)DecodeInt(payload);
  (void)DecodeLeadingDomain(payload);
  (void)DecodeDomainAfterInt(payload);
  (void)DecodeOpenArgs(payload);
  (void)DecodeSetMetadataArgs(payload);
  (void)DecodeLookupByUuidArgs(payload);
  (void)DecodeCallbackRegisterArgs(payload);
  (void)DecodeAllDomainStatsArgs(payload);
  auto stats = DecodeAllDomainStatsRet(payload);
  if (stats.ok()) (void)EncodeAllDomainStatsRet(*stats);
  auto xml = DecodeXmlArgs(payload, false);
  if (xml.ok()) {
    TenantScope scope;
    scope.tvd = "blue";
    scope.storage_path = "/var/lib/tvd/blue";
    scope.networks = {"n"};
    (void)ConfineDomainXml(xml->xml, scope);
    (void)OwnerFromDomainXml(xml->xml);
    (void)DomainDisks(xml->xml);
    (void)HasProxyAdmission(xml->xml);
    Uuid uuid{};
    (void)WithDomainUuid(xml->xml, uuid);
    (void)WithDomainUuid(xml->xml, std::nullopt);
    NameDiskSizes sizes;
    auto charge = ChargeOfDomainXml(xml->xml, false, sizes);
    if (charge.ok()) {
      tvd::policy::QuotaLimits quota;
      quota.domains = 8;
      quota.vcpus = 16;
      quota.memory_mib = 16384;
      quota.disk_gib = 200;
      TenantUsage usage;
      usage.domains = {*charge, *charge};
      usage.domains[0].active = true;
      (void)CheckDefine("blue", quota, usage, *charge, true);
      (void)CheckStart("blue", quota, usage, *charge);
      (void)CheckResize("blue", quota, usage, usage.domains[0], *charge, true);
    }
  }

  PacketAssembler assembler;
  assembler.Append(bytes.first(size / 2));
  Packet p;
  while (true) {
    auto got = assembler.Next(p);
    if (!got.ok() || !*got) break;
  }
  assembler.Append(bytes.subspan(size / 2));
  while (true) {
    auto got = assembler.Next(p);
    if (!got.ok() || !*got) break;
  }
  return 0;
}

// Fuzz target for the relay's packet decoder and every payload decoder it
// applies to tenant or libvirtd bytes, plus the stream assembler (fed in
// two pieces) and the domain XML confinement and edits (disks, admission,
// UUID) of any string payload.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/libvirt_filter/domain_xml_edit.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/libvirt_filter/rpc_packet.h"

using namespace tvd::libvirt_filter;

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
    (void)ConfineDomainXml(xml->xml,
                           TenantScope{"blue", "/var/lib/tvd/blue", {"n"}});
    (void)OwnerFromDomainXml(xml->xml);
    (void)DomainDisks(xml->xml);
    (void)HasProxyAdmission(xml->xml);
    Uuid uuid{};
    (void)WithDomainUuid(xml->xml, uuid);
    (void)WithDomainUuid(xml->xml, std::nullopt);
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

// Fuzz target for the relay's packet decoder and every payload decoder it
// applies to tenant or libvirtd bytes, plus the stream assembler (fed in
// two pieces) and the domain XML confinement of any string payload.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tvd/libvirt_filter/domain_xml.h"
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
    TenantScope scope;
    scope.tvd = "blue";
    scope.storage_path = "/var/lib/tvd/blue";
    scope.networks = {"n"};
    (void)ConfineDomainXml(xml->xml, scope);
    (void)OwnerFromDomainXml(xml->xml);
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

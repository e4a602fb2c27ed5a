#include "tvd/libvirt_filter/session_filter.h"

#include <algorithm>

#include "tvd/libvirt_filter/domain_xml_edit.h"
#include "tvd/libvirt_filter/remote_protocol.h"
#include "tvd/log.h"
#include "tvd/policy/tvd_policy.h"

namespace tvd::libvirt_filter {

namespace {

// More outstanding calls than this from one tenant is abuse (libvirt
// clients wait for their replies; libvirtd itself queues only a few).
constexpr std::size_t kMaxPendingCalls = 64;

// Procedures forwarded as they are. None of their arguments names a host
// object: they are numbers (cpu/cell numbers, flags, feature ids), CPU
// definitions (CompareCpu/BaselineCpu parse CPU XML, which names no file),
// architecture names, or callback ids. GetDomainCapabilities, whose
// emulatorbin names a host binary that libvirtd runs to probe it, is not
// here: it is confined in OnCall.
constexpr std::int32_t kPassThrough[] = {
    kProcConnectClose,
    kProcConnectGetType,
    kProcConnectGetVersion,
    kProcConnectGetMaxVcpus,
    kProcNodeGetInfo,
    kProcConnectGetCapabilities,
    kProcConnectGetHostname,
    kProcConnectSupportsFeature,
    kProcAuthList,
    kProcNodeGetCellsFreeMemory,
    kProcNodeGetFreeMemory,
    kProcConnectGetUri,
    kProcNodeGetSecurityModel,
    kProcConnectIsSecure,
    kProcConnectGetLibVersion,
    kProcNodeGetCpuStats,
    kProcNodeGetMemoryStats,
    kProcNodeGetCpuMap,
    kProcNodeGetFreePages,
    kProcConnectCompareCpu,
    kProcConnectBaselineCpu,
    kProcConnectGetCpuModelNames,
    kProcConnectRegisterCloseCallback,
    kProcConnectUnregisterCloseCallback,
    kProcConnectDomainEventRegister,
    kProcConnectDomainEventDeregister,
    kProcConnectDomainEventRegisterAny,
    kProcConnectDomainEventDeregisterAny,
};

// Procedures on one of the tenant's domains, forwarded once the domain is
// known to be the tenant's (DomainCreate, CreateWithFlags and SetAutostart
// are checked further in OnCall). Arguments that name something else than
// the domain are resolved by libvirtd among that domain's own devices, never
// on the host (libvirt's qemu_driver.c):
//   - BlockStats, BlockStatsFlags, GetBlockInfo, GetBlockIoTune,
//     GetBlockJobInfo take a disk "path": virDomainDiskByName() matches it
//     against the domain's <disk> targets and source paths, and the call
//     fails with "invalid path" when none matches;
//   - InterfaceStats and GetInterfaceParameters take a "device":
//     virDomainNetFind() matches it against the domain's NICs (target dev
//     or MAC address) and fails otherwise;
//   - GetMetadata's uri is a namespace name; InterfaceAddresses' source
//     chooses lease, agent or ARP data filtered by the domain's own MACs;
//   - UndefineFlags' NVRAM/TPM flags remove the domain's own NVRAM or TPM
//     state, whose paths come from its (confined) definition.
constexpr std::int32_t kOwnedDomain[] = {
    kProcDomainCreate,
    kProcDomainDestroy,
    kProcDomainGetXmlDesc,
    kProcDomainGetAutostart,
    kProcDomainGetInfo,
    kProcDomainGetMaxMemory,
    kProcDomainGetMaxVcpus,
    kProcDomainGetOsType,
    kProcDomainGetVcpus,
    kProcDomainReboot,
    kProcDomainResume,
    kProcDomainSetAutostart,
    kProcDomainSetMaxMemory,
    kProcDomainSetMemory,
    kProcDomainSetVcpus,
    kProcDomainShutdown,
    kProcDomainSuspend,
    kProcDomainUndefine,
    kProcDomainGetSchedulerType,
    kProcDomainBlockStats,
    kProcDomainInterfaceStats,
    kProcDomainGetSecurityLabel,
    kProcDomainIsActive,
    kProcDomainIsPersistent,
    kProcDomainMemoryStats,
    kProcDomainGetJobInfo,
    kProcDomainHasManagedSaveImage,
    kProcDomainSnapshotNum,
    kProcDomainSnapshotListNames,
    kProcDomainGetBlockInfo,
    kProcDomainCreateWithFlags,
    kProcDomainGetVcpusFlags,
    kProcDomainIsUpdated,
    kProcDomainGetState,
    kProcDomainGetControlInfo,
    kProcDomainGetVcpuPinInfo,
    kProcDomainUndefineFlags,
    kProcDomainDestroyFlags,
    kProcDomainShutdownFlags,
    kProcDomainGetCpuStats,
    kProcDomainGetDiskErrors,
    kProcDomainGetMetadata,
    kProcDomainListAllSnapshots,
    kProcDomainGetHostname,
    kProcDomainGetSecurityLabelList,
    kProcDomainGetEmulatorPinInfo,
    kProcDomainGetJobStats,
    kProcDomainGetTime,
    kProcDomainGetIothreadInfo,
    kProcDomainInterfaceAddresses,
    kProcDomainGetPerfEvents,
    kProcDomainGetGuestVcpus,
    kProcDomainGetSchedulerParameters,
    kProcDomainGetSchedulerParametersFlags,
    kProcDomainGetMemoryParameters,
    kProcDomainGetBlkioParameters,
    kProcDomainGetNumaParameters,
    kProcDomainGetInterfaceParameters,
    kProcDomainGetBlockIoTune,
    kProcDomainGetBlockJobInfo,
    kProcDomainBlockStatsFlags,
    kProcDomainGetFsinfo,
    kProcDomainSetVcpusFlags,
    kProcDomainSetMemoryFlags,
    kProcDomainReset,
};

// Host objects tenants do not manage through libvirt: counts are 0.
constexpr std::int32_t kEmptyCounts[] = {
    kProcConnectNumOfNetworks,
    kProcConnectNumOfDefinedNetworks,
    kProcConnectNumOfStoragePools,
    kProcConnectNumOfDefinedStoragePools,
    kProcNodeNumOfDevices,
    kProcConnectNumOfInterfaces,
    kProcConnectNumOfDefinedInterfaces,
    kProcConnectNumOfSecrets,
    kProcConnectNumOfNwfilters,
};
// ... name lists are empty ...
constexpr std::int32_t kEmptyNameLists[] = {
    kProcConnectListNetworks,
    kProcConnectListDefinedNetworks,
    kProcConnectListStoragePools,
    kProcConnectListDefinedStoragePools,
    kProcNodeListDevices,
    kProcConnectListInterfaces,
    kProcConnectListDefinedInterfaces,
    kProcConnectListSecrets,
    kProcConnectListNwfilters,
};
// ... and so are the object lists ({objects<>; u32 ret}).
constexpr std::int32_t kEmptyObjectLists[] = {
    kProcConnectListAllStoragePools, kProcConnectListAllNetworks,
    kProcConnectListAllInterfaces,   kProcConnectListAllNodeDevices,
    kProcConnectListAllNwfilters,    kProcConnectListAllSecrets,
};

// Legacy domain events: the message starts with the domain.
constexpr std::int32_t kLegacyDomainEvents[] = {
    107, 169, 170, 171, 172, 173, 195, 224,
    241, 248, 268, 269, 270, 276, 292, 311,
};

template <std::size_t N>
bool In(const std::int32_t (&list)[N], std::int32_t v) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

// VIR_DOMAIN_METADATA_ELEMENT: the only metadata type with a namespace.
constexpr std::int32_t kMetadataElement = 2;

// Longest domain name a tenant may give, after "<tvd>-".
constexpr std::size_t kMaxNameSuffix = 64;

// A tenant-supplied value as shown in a refusal or a log line: at most 80
// bytes, control characters replaced.
std::string Shown(std::string_view v) {
  std::string s(v.substr(0, 80));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (v.size() > 80) s += "...";
  return s;
}

}  // namespace

bool IsOwnedDomainProcedure(std::int32_t procedure) {
  return In(kOwnedDomain, procedure);
}

bool IsPassThroughProcedure(std::int32_t procedure) {
  return In(kPassThrough, procedure);
}

bool InTenantNamespace(std::string_view name, std::string_view tvd) {
  if (tvd.empty() || name.size() <= tvd.size() + 1 ||
      name.size() > tvd.size() + 1 + kMaxNameSuffix || !name.starts_with(tvd) ||
      name[tvd.size()] != '-') {
    return false;
  }
  for (char c : name.substr(tvd.size() + 1)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

SessionFilter::SessionFilter(TenantScope scope, OwnershipCache& cache,
                             DomainDirectory& directory,
                             const NotFoundReplies& not_found,
                             DiskImageChecker& disks, std::string pinned_uri,
                             QuotaGuard* quota)
    : scope_(std::move(scope)),
      cache_(cache),
      directory_(directory),
      not_found_(not_found),
      disks_(disks),
      pinned_uri_(std::move(pinned_uri)),
      quota_(quota) {}

SessionFilter::~SessionFilter() {
  if (quota_ == nullptr) return;
  for (const auto& [serial, call] : pending_) {
    quota_->Release(call.quota_reservation);
  }
}

bool SessionFilter::QuotaAdmits(const PacketHeader& h,
                                StatusOr<std::uint64_t> admitted,
                                PendingCall& call, FilterOutput& out) {
  if (admitted.ok()) {
    call.quota_reservation = *admitted;
    return true;
  }
  const Status& s = admitted.status();
  if (s.code() == ErrorCode::kProtocol) {
    Malformed(h, s, out);
  } else if (s.code() == ErrorCode::kResourceExhausted) {
    Deny(h, s.message(), out);
  } else {
    Deny(h, "cannot check the TVD's quota: " + s.message(), out);
  }
  return false;
}

void SessionFilter::Forward(Packet& packet, FilterOutput& out,
                            PendingCall call) {
  if (pending_.size() >= kMaxPendingCalls) {
    out.close = ProtocolError("more than " + std::to_string(kMaxPendingCalls) +
                              " calls outstanding");
    if (quota_ != nullptr) quota_->Release(call.quota_reservation);
    return;
  }
  if (pending_.contains(packet.header.serial)) {
    out.close = ProtocolError("serial " + std::to_string(packet.header.serial) +
                              " reused while its call is outstanding");
    if (quota_ != nullptr) quota_->Release(call.quota_reservation);
    return;
  }
  call.procedure = packet.header.procedure;
  pending_[packet.header.serial] = std::move(call);
  out.to_upstream.push_back(EncodePacket(packet.header, packet.payload));
}

void SessionFilter::Reply(const PacketHeader& call,
                          std::span<const std::uint8_t> payload,
                          FilterOutput& out) {
  out.to_client.push_back(OkReply(call, payload));
}

void SessionFilter::Fail(const PacketHeader& call, const RemoteError& error,
                         FilterOutput& out) {
  out.to_client.push_back(ErrorReply(call, error));
}

void SessionFilter::Deny(const PacketHeader& call, const std::string& detail,
                         FilterOutput& out) {
  log::Info("tenant ", scope_.tvd, ": denied procedure ", call.procedure, ": ",
            detail);
  Fail(call, DeniedError(detail), out);
}

void SessionFilter::Malformed(const PacketHeader& call, const Status& status,
                              FilterOutput& out) {
  out.close =
      ProtocolError("malformed arguments of procedure " +
                    std::to_string(call.procedure) + ": " + status.message());
}

void SessionFilter::OnClientPacket(Packet packet, FilterOutput& out) {
  const PacketHeader& h = packet.header;
  if (h.program == kKeepaliveProgram) {
    if (h.version != kKeepaliveVersion || h.type != MessageType::kMessage ||
        (h.procedure != kKeepalivePing && h.procedure != kKeepalivePong) ||
        !packet.payload.empty()) {
      out.close = ProtocolError("malformed keepalive message");
      return;
    }
    out.to_upstream.push_back(EncodePacket(h, packet.payload));
    return;
  }
  if (h.type != MessageType::kCall && h.type != MessageType::kCallWithFds) {
    out.close =
        ProtocolError("tenant sent message type " +
                      std::to_string(static_cast<std::uint32_t>(h.type)) +
                      "; only calls and keepalives are accepted");
    return;
  }
  if (h.program != kRemoteProgram) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%08x", h.program);
    Deny(h,
         std::string("RPC program ") + hex +
             " is not available through the TVD relay",
         out);
    return;
  }
  if (h.version != kRemoteVersion) {
    Deny(h,
         "RPC program version " + std::to_string(h.version) +
             " is not supported by the TVD relay",
         out);
    return;
  }
  if (h.type == MessageType::kCallWithFds) {
    Deny(h, "passing file descriptors is not available through the TVD relay",
         out);
    return;
  }
  OnCall(packet, out);
}

void SessionFilter::OnCall(Packet& packet, FilterOutput& out) {
  const PacketHeader h = packet.header;
  const std::int32_t proc = h.procedure;
  std::span<const std::uint8_t> args = packet.payload;

  if (IsPassThroughProcedure(proc)) {
    Forward(packet, out, {});
    return;
  }
  if (IsOwnedDomainProcedure(proc)) {
    StatusOr<RemoteDomain> dom = DecodeLeadingDomain(args);
    if (!dom.ok()) return Malformed(h, dom.status(), out);
    if (!Owns(*dom)) return Fail(h, not_found_.ForDomain(*dom), out);
    if (proc == kProcDomainCreate || proc == kProcDomainCreateWithFlags) {
      // The definition may be older than today's checks (or the admin's),
      // and the images may have changed since it was stored.
      StatusOr<std::string> xml = directory_.GetXmlDesc(*dom);
      if (!xml.ok()) {
        return Deny(h,
                    "cannot read the definition of domain '" +
                        Shown(dom->name) + "': " + xml.status().message(),
                    out);
      }
      if (Status disks = CheckDisks(*xml); !disks.ok()) {
        return Deny(h, disks.message(), out);
      }
    }
    if (proc == kProcDomainSetAutostart) {
      XdrReader r(args);
      StatusOr<RemoteDomain> skip = ReadDomain(r);
      if (!skip.ok()) return Malformed(h, skip.status(), out);
      StatusOr<std::int32_t> autostart = r.I32("autostart");
      if (!autostart.ok()) return Malformed(h, autostart.status(), out);
      if (Status end = r.ExpectEnd("set autostart arguments"); !end.ok()) {
        return Malformed(h, end, out);
      }
      if (*autostart != 0) {
        return Deny(h,
                    "autostart: libvirtd would start the domain at its own "
                    "start, past the TVD relay's checks",
                    out);
      }
    }
    PendingCall call;
    // Quota (tenant_quota.h): starts and vCPU/memory changes.
    if (quota_ != nullptr &&
        !QuotaAdmits(h, quota_->AdmitDomainCall(scope_, proc, args), call,
                     out)) {
      return;
    }
    Forward(packet, out, std::move(call));
    return;
  }
  if (In(kEmptyCounts, proc)) return Reply(h, EncodeInt(0), out);
  if (In(kEmptyNameLists, proc)) return Reply(h, EncodeNameList({}), out);
  if (In(kEmptyObjectLists, proc)) return Reply(h, EncodeDomainList({}), out);

  switch (proc) {
    case kProcConnectOpen: {
      StatusOr<OpenArgs> open = DecodeOpenArgs(args);
      if (!open.ok()) return Malformed(h, open.status(), out);
      open->name = pinned_uri_;
      packet.payload = EncodeOpenArgs(*open);
      Forward(packet, out, {});
      return;
    }
    case kProcConnectGetDomainCapabilities: {
      // libvirtd runs the emulator it is given (as root, to probe it).
      XdrReader r(args);
      StatusOr<std::optional<std::string>> emulator =
          r.OptionalString("emulatorbin", kStringMax);
      if (!emulator.ok()) return Malformed(h, emulator.status(), out);
      for (const char* field : {"arch", "machine", "virttype"}) {
        StatusOr<std::optional<std::string>> v =
            r.OptionalString(field, kStringMax);
        if (!v.ok()) return Malformed(h, v.status(), out);
      }
      StatusOr<std::uint32_t> flags = r.U32("flags");
      if (!flags.ok()) return Malformed(h, flags.status(), out);
      if (Status end = r.ExpectEnd("domain capabilities arguments");
          !end.ok()) {
        return Malformed(h, end, out);
      }
      if (*emulator && **emulator != scope_.emulator) {
        return Deny(h,
                    "emulator '" + Shown(**emulator) +
                        "': the host's emulator is chosen by the TVD, not the "
                        "tenant",
                    out);
      }
      Forward(packet, out, {});
      return;
    }
    case kProcDomainLookupByName: {
      StatusOr<std::string> name = DecodeLookupByNameArgs(args);
      if (!name.ok()) return Malformed(h, name.status(), out);
      PendingCall call;
      call.name = *name;
      Forward(packet, out, std::move(call));
      return;
    }
    case kProcDomainLookupByUuid: {
      StatusOr<Uuid> uuid = DecodeLookupByUuidArgs(args);
      if (!uuid.ok()) return Malformed(h, uuid.status(), out);
      PendingCall call;
      call.uuid = *uuid;
      Forward(packet, out, std::move(call));
      return;
    }
    case kProcDomainLookupById: {
      StatusOr<std::int32_t> id = DecodeLookupByIdArgs(args);
      if (!id.ok()) return Malformed(h, id.status(), out);
      PendingCall call;
      call.id = *id;
      Forward(packet, out, std::move(call));
      return;
    }
    case kProcConnectListAllDomains: {
      XdrReader r(args);
      StatusOr<std::int32_t> need = r.I32("need_results");
      if (!need.ok()) return Malformed(h, need.status(), out);
      StatusOr<std::uint32_t> flags = r.U32("flags");
      if (!flags.ok()) return Malformed(h, flags.status(), out);
      if (Status end = r.ExpectEnd("list all domains arguments"); !end.ok()) {
        return Malformed(h, end, out);
      }
      PendingCall call;
      call.need_results = *need != 0;
      call.flags = *flags;
      Forward(packet, out, std::move(call));
      return;
    }
    case kProcConnectListDomains:
    case kProcConnectListDefinedDomains: {
      // libvirtd cuts the list at the client's maximum before the relay
      // filters it, which could leave out the tenant's own domains: ask for
      // everything, filter, then cut.
      StatusOr<std::int32_t> max = DecodeInt(args);
      if (!max.ok()) return Malformed(h, max.status(), out);
      if (*max < 0 || *max > static_cast<std::int32_t>(kDomainListMax)) {
        return Malformed(h,
                         ProtocolError("list maximum " + std::to_string(*max) +
                                       " is out of range"),
                         out);
      }
      PendingCall call;
      call.max_results = *max;
      packet.payload = EncodeInt(static_cast<std::int32_t>(kDomainListMax));
      Forward(packet, out, std::move(call));
      return;
    }
    case kProcConnectNumOfDomains:
    case kProcConnectNumOfDefinedDomains: {
      StatusOr<std::int32_t> n =
          CountOwned(proc == kProcConnectNumOfDomains ? kListDomainsActive
                                                      : kListDomainsInactive);
      if (!n.ok()) {
        RemoteError e;
        e.code = kErrRpc;
        e.domain = kFromRemote;
        e.message = "TVD relay cannot count domains: " + n.status().message();
        return Fail(h, e, out);
      }
      return Reply(h, EncodeInt(*n), out);
    }
    case kProcDomainDefineXml:
    case kProcDomainCreateXml:
    case kProcDomainDefineXmlFlags:
      OnDefine(packet, proc != kProcDomainDefineXml, out);
      return;
    case kProcDomainSetMetadata: {
      StatusOr<SetMetadataArgs> a = DecodeSetMetadataArgs(args);
      if (!a.ok()) return Malformed(h, a.status(), out);
      if (!Owns(a->dom)) return Fail(h, not_found_.ForDomain(a->dom), out);
      if (a->type == kMetadataElement &&
          (a->uri.value_or("") == tvd::policy::kVmNamespace ||
           a->metadata.value_or("").find(tvd::policy::kVmNamespace) !=
               std::string::npos)) {
        return Deny(h,
                    std::string("the TVD metadata (") +
                        tvd::policy::kVmNamespace +
                        ") is managed by the TVD and cannot be changed",
                    out);
      }
      Forward(packet, out, {});
      return;
    }
    case kProcDomainRename: {
      XdrReader r(args);
      StatusOr<RemoteDomain> dom = ReadDomain(r);
      if (!dom.ok()) return Malformed(h, dom.status(), out);
      StatusOr<std::optional<std::string>> new_name =
          r.OptionalString("new name", kStringMax);
      if (!new_name.ok()) return Malformed(h, new_name.status(), out);
      if (!Owns(*dom)) return Fail(h, not_found_.ForDomain(*dom), out);
      // The name is part of the configuration the proxy measured.
      if (Status free = CheckNotAdmitted(*dom); !free.ok()) {
        return Deny(h, free.message(), out);
      }
      if (*new_name) {
        // Onto one of the tenant's own names: libvirtd's own conflict
        // error. Onto any other name: the namespace rule, which answers
        // the same whether or not such a domain exists.
        StatusOr<std::optional<RemoteDomain>> taken =
            directory_.LookupByName(**new_name);
        if (!taken.ok()) {
          return Deny(
              h, "cannot check the domain name: " + taken.status().message(),
              out);
        }
        if (!*taken || !Owns(**taken)) {
          if (Status name = CheckNewName(**new_name, *taken); !name.ok()) {
            return Deny(h, name.message(), out);
          }
        }
      }
      // The owner lives in the metadata, which a rename keeps.
      Forward(packet, out, {});
      return;
    }
    case kProcConnectGetAllDomainStats: {
      StatusOr<AllDomainStatsArgs> a = DecodeAllDomainStatsArgs(args);
      if (!a.ok()) return Malformed(h, a.status(), out);
      for (const RemoteDomain& d : a->doms) {
        if (!Owns(d)) return Fail(h, not_found_.ForDomain(d), out);
      }
      Forward(packet, out, {});
      return;
    }
    case kProcConnectDomainEventCallbackRegisterAny: {
      StatusOr<CallbackRegisterArgs> a = DecodeCallbackRegisterArgs(args);
      if (!a.ok()) return Malformed(h, a.status(), out);
      if (a->dom && !Owns(*a->dom)) {
        return Fail(h, not_found_.ForDomain(*a->dom), out);
      }
      Forward(packet, out, {});
      return;
    }
    case kProcConnectDomainEventCallbackDeregisterAny: {
      StatusOr<std::int32_t> id = DecodeInt(args);
      if (!id.ok()) return Malformed(h, id.status(), out);
      if (!callback_ids_.contains(*id)) {
        return Deny(h,
                    "event callback " + std::to_string(*id) +
                        " was not registered on this connection",
                    out);
      }
      callback_ids_.erase(*id);
      Forward(packet, out, {});
      return;
    }
    default:
      Deny(h,
           "procedure " + std::to_string(proc) +
               " is not available through the TVD relay",
           out);
  }
}

void SessionFilter::OnDefine(Packet& packet, bool has_flags,
                             FilterOutput& out) {
  const PacketHeader h = packet.header;
  StatusOr<XmlArgs> a = DecodeXmlArgs(packet.payload, has_flags);
  if (!a.ok()) return Malformed(h, a.status(), out);
  StatusOr<ConfinedDomain> confined = ConfineDomainXml(a->xml, scope_);
  if (!confined.ok()) {
    if (confined.status().code() == ErrorCode::kPermissionDenied) {
      return Deny(h, confined.status().message(), out);
    }
    RemoteError e;
    e.code = kErrXmlError;
    e.domain = kFromDom;
    e.message = "XML error: " + confined.status().message();
    return Fail(h, e, out);
  }
  // Names: the tenant's own domain is redefined in place; any other name
  // must be a new one in the TVD's namespace. UUIDs: whatever the tenant
  // wrote is replaced, so no foreign UUID ever reaches libvirtd.
  StatusOr<std::optional<RemoteDomain>> by_name =
      directory_.LookupByName(confined->name);
  if (!by_name.ok()) {
    return Deny(
        h, "cannot check the domain name: " + by_name.status().message(), out);
  }
  std::optional<Uuid> uuid;
  if (*by_name && Owns(**by_name)) {
    const RemoteDomain& existing = **by_name;
    if (Status free = CheckNotAdmitted(existing); !free.ok()) {
      return Deny(h, free.message(), out);
    }
    uuid = existing.uuid;
  } else if (Status name = CheckNewName(confined->name, *by_name); !name.ok()) {
    return Deny(h, name.message(), out);
  }
  StatusOr<std::string> xml = WithDomainUuid(confined->xml, uuid);
  if (!xml.ok()) {
    RemoteError e;
    e.code = kErrXmlError;
    e.domain = kFromDom;
    e.message = "XML error: " + xml.status().message();
    return Fail(h, e, out);
  }
  if (Status disks = CheckDisks(*xml); !disks.ok()) {
    return Deny(h, disks.message(), out);
  }
  PendingCall call;
  // Quota (tenant_quota.h): domains, disk, and for CreateXml the start.
  if (quota_ != nullptr &&
      !QuotaAdmits(h,
                   quota_->AdmitDefine(scope_, *xml,
                                       h.procedure == kProcDomainCreateXml),
                   call, out)) {
    return;
  }
  a->xml = std::move(*xml);
  packet.payload = EncodeXmlArgs(*a);
  Forward(packet, out, std::move(call));
}

Status SessionFilter::CheckNewName(const std::string& name,
                                   const std::optional<RemoteDomain>& taken) {
  if (!InTenantNamespace(name, scope_.tvd)) {
    return PermissionDenied("domain name '" + Shown(name) + "': names of TVD " +
                            scope_.tvd + "'s domains are '" + scope_.tvd +
                            "-' followed by 1 to 64 letters, digits, '_', "
                            "'.' or '-'");
  }
  for (const std::string& nested : scope_.nested_tvds) {
    // Another TVD's namespace inside this one's: refused by name alone, so
    // that its domains answer like names nobody uses.
    if (name.starts_with(nested + "-")) {
      return PermissionDenied("domain name '" + Shown(name) +
                              "': names starting with '" + nested +
                              "-' are reserved on this host");
    }
  }
  if (taken) {
    // Only the admin can put a domain of another owner under this TVD's
    // names; the tenant learns that the name is held, not by whom.
    StatusOr<std::string> owner = cache_.OwnerOf(*taken);
    log::Warning(
        "TVD ", scope_.tvd, ": domain name '", Shown(name),
        "' is in the TVD's namespace but its domain belongs to ",
        owner.ok() ? (owner->empty() ? std::string("no TVD") : "TVD " + *owner)
                   : owner.status().message(),
        " (admin misconfiguration: rename or remove it)");
    return PermissionDenied("domain name '" + Shown(name) +
                            "' is reserved on this host; ask the datacenter "
                            "admin");
  }
  return Status::Ok();
}

Status SessionFilter::CheckNotAdmitted(const RemoteDomain& dom) {
  StatusOr<std::string> current = directory_.GetXmlDesc(dom);
  StatusOr<bool> admitted =
      current.ok() ? HasProxyAdmission(*current) : current.status();
  if (!admitted.ok()) {
    return PermissionDenied("cannot read the definition of domain '" +
                            Shown(dom.name) +
                            "': " + admitted.status().message());
  }
  if (*admitted) {
    return PermissionDenied(
        "domain '" + Shown(dom.name) +
        "' was admitted by the TVD proxy with a measured configuration; "
        "change it with tvdctl attach on the host");
  }
  return Status::Ok();
}

Status SessionFilter::CheckDisks(std::string_view xml) {
  TVD_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, DomainDisks(xml));
  for (const DomainDisk& d : disks) {
    if (d.type != "file") {
      if (!d.has_source) continue;
      return PermissionDenied(
          "<disk type='" + Shown(d.type) +
          "'>: only file disks can be started through the TVD relay");
    }
    if (d.file.empty()) continue;
    if (d.format != "raw" && d.format != "qcow2") {
      return PermissionDenied("disk image '" + Shown(d.file) + "': format '" +
                              Shown(d.format) +
                              "' is not allowed (raw or qcow2)");
    }
    TVD_RETURN_IF_ERROR(disks_.Check(d.file, d.format, scope_.storage_path));
  }
  return Status::Ok();
}

StatusOr<std::int32_t> SessionFilter::CountOwned(std::uint32_t flags) {
  TVD_ASSIGN_OR_RETURN(std::vector<RemoteDomain> all,
                       directory_.ListAll(flags));
  std::int32_t n = 0;
  for (const RemoteDomain& d : all) n += Owns(d) ? 1 : 0;
  return n;
}

void SessionFilter::OnUpstreamPacket(Packet packet, FilterOutput& out) {
  const PacketHeader& h = packet.header;
  if (h.program == kKeepaliveProgram) {
    out.to_client.push_back(EncodePacket(h, packet.payload));
    return;
  }
  if (h.program != kRemoteProgram) return;
  switch (h.type) {
    case MessageType::kReply:
    case MessageType::kReplyWithFds:
      OnReply(packet, out);
      return;
    case MessageType::kMessage:
      OnEvent(packet, out);
      return;
    default:
      return;  // streams are never opened through the relay
  }
}

void SessionFilter::OnReply(Packet& packet, FilterOutput& out) {
  const PacketHeader h = packet.header;
  auto it = pending_.find(h.serial);
  if (it == pending_.end()) {
    log::Warning("libvirtd replied to unknown serial ", h.serial);
    return;
  }
  PendingCall call = std::move(it->second);
  pending_.erase(it);
  if (quota_ != nullptr) {
    quota_->Release(call.quota_reservation);
    if (h.status == MessageStatus::kOk) {
      quota_->Answered(scope_, call.procedure);
    }
  }
  if (h.type == MessageType::kReplyWithFds) {
    return Deny(h,
                "passing file descriptors is not available through the "
                "TVD relay",
                out);
  }
  if (h.status != MessageStatus::kOk) {
    out.to_client.push_back(EncodePacket(h, packet.payload));
    return;
  }
  auto upstream_broken = [&](const Status& s) {
    out.close = ProtocolError("libvirtd reply to procedure " +
                              std::to_string(call.procedure) +
                              " does not decode: " + s.message());
  };
  switch (call.procedure) {
    case kProcDomainLookupByName:
    case kProcDomainLookupByUuid:
    case kProcDomainLookupById: {
      StatusOr<RemoteDomain> dom = DecodeLeadingDomain(packet.payload);
      if (!dom.ok()) return upstream_broken(dom.status());
      if (Owns(*dom)) break;
      if (call.procedure == kProcDomainLookupByName) {
        return Fail(h, not_found_.ByName(call.name), out);
      }
      if (call.procedure == kProcDomainLookupByUuid) {
        return Fail(h, not_found_.ByUuid(call.uuid), out);
      }
      return Fail(h, not_found_.ById(call.id), out);
    }
    case kProcConnectListAllDomains: {
      StatusOr<DomainList> list = DecodeDomainList(packet.payload);
      if (!list.ok()) return upstream_broken(list.status());
      if (!call.need_results) {
        StatusOr<std::int32_t> n = CountOwned(call.flags);
        if (!n.ok()) return upstream_broken(n.status());
        list->ret = static_cast<std::uint32_t>(*n);
      } else {
        std::erase_if(list->domains,
                      [&](const RemoteDomain& d) { return !Owns(d); });
        list->ret = static_cast<std::uint32_t>(list->domains.size());
      }
      return Reply(h, EncodeDomainList(*list), out);
    }
    case kProcConnectListDomains: {
      StatusOr<std::vector<std::int32_t>> ids = DecodeIdList(packet.payload);
      if (!ids.ok()) return upstream_broken(ids.status());
      std::erase_if(*ids, [&](std::int32_t id) {
        StatusOr<std::optional<RemoteDomain>> d = directory_.LookupById(id);
        return !d.ok() || !d->has_value() || !Owns(**d);
      });
      if (ids->size() > static_cast<std::size_t>(call.max_results)) {
        ids->resize(static_cast<std::size_t>(call.max_results));
      }
      return Reply(h, EncodeIdList(*ids), out);
    }
    case kProcConnectListDefinedDomains: {
      StatusOr<std::vector<std::string>> names = DecodeNameList(packet.payload);
      if (!names.ok()) return upstream_broken(names.status());
      std::erase_if(*names, [&](const std::string& name) {
        StatusOr<std::optional<RemoteDomain>> d = directory_.LookupByName(name);
        return !d.ok() || !d->has_value() || !Owns(**d);
      });
      if (names->size() > static_cast<std::size_t>(call.max_results)) {
        names->resize(static_cast<std::size_t>(call.max_results));
      }
      return Reply(h, EncodeNameList(*names), out);
    }
    case kProcConnectGetAllDomainStats: {
      StatusOr<std::vector<DomainStatsRecord>> records =
          DecodeAllDomainStatsRet(packet.payload);
      if (!records.ok()) return upstream_broken(records.status());
      std::erase_if(*records,
                    [&](const DomainStatsRecord& r) { return !Owns(r.dom); });
      return Reply(h, EncodeAllDomainStatsRet(*records), out);
    }
    case kProcDomainDefineXml:
    case kProcDomainDefineXmlFlags:
    case kProcDomainCreateXml: {
      StatusOr<RemoteDomain> dom = DecodeLeadingDomain(packet.payload);
      if (!dom.ok()) return upstream_broken(dom.status());
      cache_.Set(dom->uuid, scope_.tvd);
      break;
    }
    case kProcConnectDomainEventCallbackRegisterAny: {
      StatusOr<std::int32_t> id = DecodeInt(packet.payload);
      if (!id.ok()) return upstream_broken(id.status());
      callback_ids_.insert(*id);
      break;
    }
    default:
      break;
  }
  out.to_client.push_back(EncodePacket(h, packet.payload));
}

void SessionFilter::OnEvent(Packet& packet, FilterOutput& out) {
  const std::int32_t proc = packet.header.procedure;
  if (proc == kProcConnectEventConnectionClosed) {
    out.to_client.push_back(EncodePacket(packet.header, packet.payload));
    return;
  }
  StatusOr<RemoteDomain> dom = ProtocolError("not a domain event");
  if (In(kLegacyDomainEvents, proc)) {
    dom = DecodeLeadingDomain(packet.payload);
  } else {
    StatusOr<std::int32_t> callback =
        XdrReader(packet.payload).I32("callback id");
    if (callback.ok() && callback_ids_.contains(*callback)) {
      dom = DecodeDomainAfterInt(packet.payload);
    }
  }
  if (!dom.ok() || !Owns(*dom)) return;
  out.to_client.push_back(EncodePacket(packet.header, packet.payload));
}

}  // namespace tvd::libvirt_filter

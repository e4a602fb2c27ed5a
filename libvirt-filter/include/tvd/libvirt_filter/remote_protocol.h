// The parts of libvirt's REMOTE and KEEPALIVE programs the relay reads,
// checks or rewrites: program and procedure numbers, the error structure,
// and the argument/return shapes of the procedures it filters.
//
// Every decoder reads exactly one value and fails with ProtocolError (what,
// where) on truncated or oversized input; none reads past its span.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tvd/libvirt_filter/rpc_packet.h"
#include "tvd/libvirt_filter/xdr.h"
#include "tvd/status.h"

namespace tvd::libvirt_filter {

inline constexpr std::uint32_t kRemoteProgram = 0x20008086;
inline constexpr std::uint32_t kRemoteVersion = 1;
inline constexpr std::uint32_t kQemuProgram = 0x20008087;
inline constexpr std::uint32_t kLxcProgram = 0x00068000;
inline constexpr std::uint32_t kKeepaliveProgram = 0x6b656570;
inline constexpr std::uint32_t kKeepaliveVersion = 1;
inline constexpr std::int32_t kKeepalivePing = 1;
inline constexpr std::int32_t kKeepalivePong = 2;

// libvirt's string limit (REMOTE_STRING_MAX) and list limit.
inline constexpr std::uint32_t kStringMax = 4194304;
inline constexpr std::uint32_t kDomainListMax = 16384;
inline constexpr std::uint32_t kTypedParamsMax = 4096;

// REMOTE program procedure numbers used by name in the relay.
enum RemoteProc : std::int32_t {
  kProcConnectOpen = 1,
  kProcConnectClose = 2,
  kProcConnectGetType = 3,
  kProcConnectGetVersion = 4,
  kProcConnectGetMaxVcpus = 5,
  kProcNodeGetInfo = 6,
  kProcConnectGetCapabilities = 7,
  kProcDomainAttachDevice = 8,
  kProcDomainCreate = 9,
  kProcDomainCreateXml = 10,
  kProcDomainDefineXml = 11,
  kProcDomainDestroy = 12,
  kProcDomainDetachDevice = 13,
  kProcDomainGetXmlDesc = 14,
  kProcDomainGetAutostart = 15,
  kProcDomainGetInfo = 16,
  kProcDomainGetMaxMemory = 17,
  kProcDomainGetMaxVcpus = 18,
  kProcDomainGetOsType = 19,
  kProcDomainGetVcpus = 20,
  kProcConnectListDefinedDomains = 21,
  kProcDomainLookupById = 22,
  kProcDomainLookupByName = 23,
  kProcDomainLookupByUuid = 24,
  kProcConnectNumOfDefinedDomains = 25,
  kProcDomainReboot = 27,
  kProcDomainResume = 28,
  kProcDomainSetAutostart = 29,
  kProcDomainSetMaxMemory = 30,
  kProcDomainSetMemory = 31,
  kProcDomainSetVcpus = 32,
  kProcDomainShutdown = 33,
  kProcDomainSuspend = 34,
  kProcDomainUndefine = 35,
  kProcConnectListDefinedNetworks = 36,
  kProcConnectListDomains = 37,
  kProcConnectListNetworks = 38,
  kProcConnectNumOfDefinedNetworks = 50,
  kProcConnectNumOfDomains = 51,
  kProcConnectNumOfNetworks = 52,
  kProcDomainGetSchedulerType = 56,
  kProcDomainGetSchedulerParameters = 57,
  kProcConnectGetHostname = 59,
  kProcConnectSupportsFeature = 60,
  kProcDomainBlockStats = 64,
  kProcDomainInterfaceStats = 65,
  kProcAuthList = 66,
  kProcConnectNumOfStoragePools = 71,
  kProcConnectListStoragePools = 72,
  kProcConnectNumOfDefinedStoragePools = 73,
  kProcConnectListDefinedStoragePools = 74,
  kProcNodeGetCellsFreeMemory = 101,
  kProcNodeGetFreeMemory = 102,
  kProcConnectDomainEventRegister = 105,
  kProcConnectDomainEventDeregister = 106,
  kProcDomainEventLifecycle = 107,
  kProcConnectGetUri = 110,
  kProcNodeNumOfDevices = 111,
  kProcNodeListDevices = 112,
  kProcDomainGetSecurityLabel = 121,
  kProcNodeGetSecurityModel = 122,
  kProcConnectNumOfInterfaces = 126,
  kProcConnectListInterfaces = 127,
  kProcConnectNumOfDefinedInterfaces = 137,
  kProcConnectListDefinedInterfaces = 138,
  kProcConnectNumOfSecrets = 139,
  kProcConnectListSecrets = 140,
  kProcConnectIsSecure = 149,
  kProcDomainIsActive = 150,
  kProcDomainIsPersistent = 151,
  kProcConnectGetLibVersion = 157,
  kProcConnectCompareCpu = 158,
  kProcDomainMemoryStats = 159,
  kProcConnectBaselineCpu = 162,
  kProcDomainGetJobInfo = 163,
  kProcConnectDomainEventRegisterAny = 167,
  kProcConnectDomainEventDeregisterAny = 168,
  kProcConnectNumOfNwfilters = 178,
  kProcConnectListNwfilters = 179,
  kProcDomainHasManagedSaveImage = 183,
  kProcDomainSnapshotNum = 187,
  kProcDomainSnapshotListNames = 188,
  kProcDomainGetBlockInfo = 194,
  kProcDomainCreateWithFlags = 196,
  kProcDomainGetMemoryParameters = 198,
  kProcDomainSetVcpusFlags = 199,
  kProcDomainGetVcpusFlags = 200,
  kProcDomainIsUpdated = 202,
  kProcConnectGetSysinfo = 203,
  kProcDomainSetMemoryFlags = 204,
  kProcDomainGetBlkioParameters = 206,
  kProcDomainGetState = 212,
  kProcDomainGetSchedulerParametersFlags = 223,
  kProcNodeGetCpuStats = 227,
  kProcNodeGetMemoryStats = 228,
  kProcDomainGetControlInfo = 229,
  kProcDomainGetVcpuPinInfo = 230,
  kProcDomainUndefineFlags = 231,
  kProcDomainDestroyFlags = 234,
  kProcDomainGetBlockJobInfo = 238,
  kProcDomainBlockStatsFlags = 243,
  kProcDomainReset = 245,
  kProcDomainGetBlockIoTune = 253,
  kProcDomainGetNumaParameters = 255,
  kProcDomainGetInterfaceParameters = 257,
  kProcDomainShutdownFlags = 258,
  kProcDomainGetCpuStats = 262,
  kProcDomainGetDiskErrors = 263,
  kProcDomainSetMetadata = 264,
  kProcDomainGetMetadata = 265,
  kProcConnectListAllDomains = 273,
  kProcDomainListAllSnapshots = 274,
  kProcDomainGetHostname = 277,
  kProcDomainGetSecurityLabelList = 278,
  kProcDomainGetEmulatorPinInfo = 280,
  kProcConnectListAllStoragePools = 281,
  kProcConnectListAllNetworks = 283,
  kProcConnectListAllInterfaces = 284,
  kProcConnectListAllNodeDevices = 285,
  kProcConnectListAllNwfilters = 286,
  kProcConnectListAllSecrets = 287,
  kProcNodeGetCpuMap = 293,
  kProcDomainGetJobStats = 298,
  kProcConnectDomainEventCallbackRegisterAny = 316,
  kProcConnectDomainEventCallbackDeregisterAny = 317,
  kProcDomainEventCallbackLifecycle = 318,
  kProcDomainGetTime = 337,
  kProcDomainEventBlockJob2 = 339,
  kProcNodeGetFreePages = 340,
  kProcConnectGetCpuModelNames = 312,
  kProcConnectGetDomainCapabilities = 342,
  kProcConnectGetAllDomainStats = 344,
  kProcDomainDefineXmlFlags = 350,
  kProcDomainGetFsinfo = 349,
  kProcDomainGetIothreadInfo = 351,
  kProcDomainInterfaceAddresses = 353,
  kProcDomainRename = 358,
  kProcConnectRegisterCloseCallback = 360,
  kProcConnectUnregisterCloseCallback = 361,
  kProcConnectEventConnectionClosed = 362,
  kProcDomainGetPerfEvents = 365,
  kProcDomainGetGuestVcpus = 371,
};

// Flags of ConnectListAllDomains used by the relay itself.
inline constexpr std::uint32_t kListDomainsActive = 1;
inline constexpr std::uint32_t kListDomainsInactive = 2;

// Lifecycle event types (virDomainEventType) the ownership cache watches.
inline constexpr std::int32_t kEventDefined = 0;
inline constexpr std::int32_t kEventUndefined = 1;
// virDomainEventID values.
inline constexpr std::int32_t kEventIdLifecycle = 0;
inline constexpr std::int32_t kEventIdMetadataChange = 23;

// virErrorNumber / virErrorDomain / virErrorLevel values the relay sends.
inline constexpr std::int32_t kErrOperationDenied = 29;
inline constexpr std::int32_t kErrXmlError = 27;
inline constexpr std::int32_t kErrRpc = 39;
inline constexpr std::int32_t kErrNoDomain = 42;
inline constexpr std::int32_t kErrOperationInvalid = 55;
inline constexpr std::int32_t kErrConfigUnsupported = 67;
inline constexpr std::int32_t kFromNone = 0;
inline constexpr std::int32_t kFromDom = 6;
inline constexpr std::int32_t kFromRpc = 7;
inline constexpr std::int32_t kFromTest = 12;
inline constexpr std::int32_t kFromRemote = 13;
inline constexpr std::int32_t kErrLevelError = 2;

// remote_nonnull_domain.
struct RemoteDomain {
  std::string name;
  Uuid uuid{};
  std::int32_t id = -1;
  friend bool operator==(const RemoteDomain&, const RemoteDomain&) = default;
};
StatusOr<RemoteDomain> ReadDomain(XdrReader& r);
void WriteDomain(XdrWriter& w, const RemoteDomain& d);

// remote_error (the payload of a REPLY with status ERROR). The `net` member
// is always sent absent.
struct RemoteError {
  std::int32_t code = 0;
  std::int32_t domain = 0;
  std::optional<std::string> message;
  std::int32_t level = kErrLevelError;
  std::optional<RemoteDomain> dom;
  std::optional<std::string> str1;
  std::optional<std::string> str2;
  std::optional<std::string> str3;
  std::int32_t int1 = 0;
  std::int32_t int2 = 0;
};
std::vector<std::uint8_t> EncodeError(const RemoteError& e);
StatusOr<RemoteError> DecodeError(std::span<const std::uint8_t> payload);

// An error reply to `call` (same program, version, procedure and serial).
std::vector<std::uint8_t> ErrorReply(const PacketHeader& call,
                                     const RemoteError& error);
// A successful reply to `call` carrying `payload`.
std::vector<std::uint8_t> OkReply(const PacketHeader& call,
                                  std::span<const std::uint8_t> payload);

// "Domain not found: <detail>" from the virt domain layer, as libvirtd says
// it; `detail` e.g. "no domain with matching name 'vm1'".
RemoteError NoDomainError(const std::string& detail);
// "operation forbidden: <detail>" (VIR_ERR_OPERATION_DENIED).
RemoteError DeniedError(const std::string& detail);

// --- Argument and return shapes -------------------------------------------

// ConnectListAllDomains ret: { remote_nonnull_domain domains<>; u32 ret; }.
struct DomainList {
  std::vector<RemoteDomain> domains;
  std::uint32_t ret = 0;
};
StatusOr<DomainList> DecodeDomainList(std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeDomainList(const DomainList& list);

// ConnectListDomains ret: { int ids<>; }.
StatusOr<std::vector<std::int32_t>> DecodeIdList(
    std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeIdList(const std::vector<std::int32_t>& ids);

// ConnectListDefinedDomains ret: { remote_nonnull_string names<>; }.
StatusOr<std::vector<std::string>> DecodeNameList(
    std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeNameList(const std::vector<std::string>& names);

// A payload that is one int (NumOf* ret, callback ids).
StatusOr<std::int32_t> DecodeInt(std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeInt(std::int32_t value);

// A payload that starts with a remote_nonnull_domain (most domain calls,
// lookup replies, define replies, legacy domain events). Trailing bytes are
// allowed (they are the rest of the arguments).
StatusOr<RemoteDomain> DecodeLeadingDomain(
    std::span<const std::uint8_t> payload);
// The same after a leading int (callback events: callbackID, domain, ...).
StatusOr<RemoteDomain> DecodeDomainAfterInt(
    std::span<const std::uint8_t> payload);

// ConnectOpen args: { remote_string name; u32 flags; }.
struct OpenArgs {
  std::optional<std::string> name;
  std::uint32_t flags = 0;
};
StatusOr<OpenArgs> DecodeOpenArgs(std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeOpenArgs(const OpenArgs& args);

// DomainDefineXML { xml }, DomainDefineXMLFlags / DomainCreateXML
// { xml; u32 flags }. `has_flags` says which.
struct XmlArgs {
  std::string xml;
  std::optional<std::uint32_t> flags;
};
StatusOr<XmlArgs> DecodeXmlArgs(std::span<const std::uint8_t> payload,
                                bool has_flags);
std::vector<std::uint8_t> EncodeXmlArgs(const XmlArgs& args);

// DomainGetXMLDesc ret: { remote_nonnull_string xml; }.
StatusOr<std::string> DecodeStringRet(std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeStringRet(const std::string& value);

// DomainSetMetadata args.
struct SetMetadataArgs {
  RemoteDomain dom;
  std::int32_t type = 0;
  std::optional<std::string> metadata;
  std::optional<std::string> key;
  std::optional<std::string> uri;
  std::uint32_t flags = 0;
};
StatusOr<SetMetadataArgs> DecodeSetMetadataArgs(
    std::span<const std::uint8_t> payload);

// DomainLookupByName args { name }, ByUUID { uuid }, ByID { id }.
StatusOr<std::string> DecodeLookupByNameArgs(
    std::span<const std::uint8_t> payload);
StatusOr<Uuid> DecodeLookupByUuidArgs(std::span<const std::uint8_t> payload);
StatusOr<std::int32_t> DecodeLookupByIdArgs(
    std::span<const std::uint8_t> payload);

// ConnectDomainEventCallbackRegisterAny args: { int eventID; remote_domain
// dom; } (dom optional: absent means all domains).
struct CallbackRegisterArgs {
  std::int32_t event_id = 0;
  std::optional<RemoteDomain> dom;
};
StatusOr<CallbackRegisterArgs> DecodeCallbackRegisterArgs(
    std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeCallbackRegisterArgs(
    const CallbackRegisterArgs& args);

// ConnectGetAllDomainStats args: { remote_nonnull_domain doms<>; u32 stats;
// u32 flags; }.
struct AllDomainStatsArgs {
  std::vector<RemoteDomain> doms;
  std::uint32_t stats = 0;
  std::uint32_t flags = 0;
};
StatusOr<AllDomainStatsArgs> DecodeAllDomainStatsArgs(
    std::span<const std::uint8_t> payload);

// ConnectGetAllDomainStats ret: records of { remote_nonnull_domain dom;
// remote_typed_param params<>; }. Each record is kept as its raw bytes so
// filtering re-emits exactly what libvirtd sent.
struct DomainStatsRecord {
  RemoteDomain dom;
  std::vector<std::uint8_t> raw;  // the whole record, dom included
};
StatusOr<std::vector<DomainStatsRecord>> DecodeAllDomainStatsRet(
    std::span<const std::uint8_t> payload);
std::vector<std::uint8_t> EncodeAllDomainStatsRet(
    const std::vector<DomainStatsRecord>& records);

}  // namespace tvd::libvirt_filter

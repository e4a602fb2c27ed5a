#include "tvd/libvirt_filter/remote_protocol.h"

namespace tvd::libvirt_filter {

namespace {

using Bytes = std::vector<std::uint8_t>;
using Span = std::span<const std::uint8_t>;

StatusOr<std::uint32_t> ReadCount(XdrReader& r, std::string_view field,
                                  std::uint32_t max) {
  TVD_ASSIGN_OR_RETURN(std::uint32_t n, r.U32(field));
  if (n > max) {
    return ProtocolError(std::string(field) + " has " + std::to_string(n) +
                         " entries, over the limit of " + std::to_string(max));
  }
  return n;
}

// Skips one remote_typed_param.
Status SkipTypedParam(XdrReader& r) {
  TVD_RETURN_IF_ERROR(r.SkipVariable("typed parameter field", kStringMax));
  TVD_ASSIGN_OR_RETURN(std::int32_t type, r.I32("typed parameter type"));
  switch (type) {
    case 1:  // int
    case 2:  // unsigned int
    case 6:  // boolean
      return r.SkipFixed("typed parameter value", 4);
    case 3:  // long long
    case 4:  // unsigned long long
    case 5:  // double
      return r.SkipFixed("typed parameter value", 8);
    case 7:  // string
      return r.SkipVariable("typed parameter value", kStringMax);
    default:
      return ProtocolError("typed parameter has unknown type " +
                           std::to_string(type));
  }
}

}  // namespace

StatusOr<RemoteDomain> ReadDomain(XdrReader& r) {
  RemoteDomain d;
  TVD_ASSIGN_OR_RETURN(d.name, r.String("domain name", kStringMax));
  TVD_ASSIGN_OR_RETURN(d.uuid, r.FixedUuid("domain uuid"));
  TVD_ASSIGN_OR_RETURN(d.id, r.I32("domain id"));
  return d;
}

void WriteDomain(XdrWriter& w, const RemoteDomain& d) {
  w.String(d.name);
  w.FixedUuid(d.uuid);
  w.I32(d.id);
}

Bytes EncodeError(const RemoteError& e) {
  XdrWriter w;
  w.I32(e.code);
  w.I32(e.domain);
  w.OptionalString(e.message);
  w.I32(e.level);
  w.Bool(e.dom.has_value());
  if (e.dom) WriteDomain(w, *e.dom);
  w.OptionalString(e.str1);
  w.OptionalString(e.str2);
  w.OptionalString(e.str3);
  w.I32(e.int1);
  w.I32(e.int2);
  w.Bool(false);  // net
  return w.Take();
}

StatusOr<RemoteError> DecodeError(Span payload) {
  XdrReader r(payload);
  RemoteError e;
  TVD_ASSIGN_OR_RETURN(e.code, r.I32("error code"));
  TVD_ASSIGN_OR_RETURN(e.domain, r.I32("error domain"));
  TVD_ASSIGN_OR_RETURN(e.message,
                       r.OptionalString("error message", kStringMax));
  TVD_ASSIGN_OR_RETURN(e.level, r.I32("error level"));
  TVD_ASSIGN_OR_RETURN(bool has_dom, r.Bool("error dom"));
  if (has_dom) {
    TVD_ASSIGN_OR_RETURN(RemoteDomain d, ReadDomain(r));
    e.dom = std::move(d);
  }
  TVD_ASSIGN_OR_RETURN(e.str1, r.OptionalString("error str1", kStringMax));
  TVD_ASSIGN_OR_RETURN(e.str2, r.OptionalString("error str2", kStringMax));
  TVD_ASSIGN_OR_RETURN(e.str3, r.OptionalString("error str3", kStringMax));
  TVD_ASSIGN_OR_RETURN(e.int1, r.I32("error int1"));
  TVD_ASSIGN_OR_RETURN(e.int2, r.I32("error int2"));
  TVD_ASSIGN_OR_RETURN(bool has_net, r.Bool("error net"));
  if (has_net) {
    TVD_RETURN_IF_ERROR(r.SkipVariable("error net name", kStringMax));
    TVD_RETURN_IF_ERROR(r.SkipFixed("error net uuid", kUuidSize));
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("remote_error"));
  return e;
}

Bytes ErrorReply(const PacketHeader& call, const RemoteError& error) {
  PacketHeader h = call;
  h.type = MessageType::kReply;
  h.status = MessageStatus::kError;
  return EncodePacket(h, EncodeError(error));
}

Bytes OkReply(const PacketHeader& call, Span payload) {
  PacketHeader h = call;
  h.type = MessageType::kReply;
  h.status = MessageStatus::kOk;
  return EncodePacket(h, payload);
}

RemoteError NoDomainError(const std::string& detail) {
  RemoteError e;
  e.code = kErrNoDomain;
  e.domain = kFromTest;
  e.message = "Domain not found: " + detail;
  e.str1 = "Domain not found: %s";
  e.str2 = detail;
  return e;
}

RemoteError DeniedError(const std::string& detail) {
  RemoteError e;
  e.code = kErrOperationDenied;
  e.domain = kFromRpc;
  e.message = "operation forbidden: " + detail;
  e.str1 = "operation forbidden: %s";
  e.str2 = detail;
  return e;
}

StatusOr<DomainList> DecodeDomainList(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::uint32_t n,
                       ReadCount(r, "domain list", kDomainListMax));
  DomainList out;
  out.domains.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(RemoteDomain d, ReadDomain(r));
    out.domains.push_back(std::move(d));
  }
  TVD_ASSIGN_OR_RETURN(out.ret, r.U32("domain list count"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("domain list"));
  return out;
}

Bytes EncodeDomainList(const DomainList& list) {
  XdrWriter w;
  w.U32(static_cast<std::uint32_t>(list.domains.size()));
  for (const RemoteDomain& d : list.domains) WriteDomain(w, d);
  w.U32(list.ret);
  return w.Take();
}

StatusOr<std::vector<std::int32_t>> DecodeIdList(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::uint32_t n,
                       ReadCount(r, "id list", kDomainListMax));
  std::vector<std::int32_t> ids;
  ids.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(std::int32_t id, r.I32("domain id"));
    ids.push_back(id);
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("id list"));
  return ids;
}

Bytes EncodeIdList(const std::vector<std::int32_t>& ids) {
  XdrWriter w;
  w.U32(static_cast<std::uint32_t>(ids.size()));
  for (std::int32_t id : ids) w.I32(id);
  return w.Take();
}

StatusOr<std::vector<std::string>> DecodeNameList(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::uint32_t n,
                       ReadCount(r, "name list", kDomainListMax));
  std::vector<std::string> names;
  names.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(std::string name, r.String("name", kStringMax));
    names.push_back(std::move(name));
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("name list"));
  return names;
}

Bytes EncodeNameList(const std::vector<std::string>& names) {
  XdrWriter w;
  w.U32(static_cast<std::uint32_t>(names.size()));
  for (const std::string& n : names) w.String(n);
  return w.Take();
}

StatusOr<std::int32_t> DecodeInt(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::int32_t v, r.I32("int"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("int"));
  return v;
}

Bytes EncodeInt(std::int32_t value) {
  XdrWriter w;
  w.I32(value);
  return w.Take();
}

StatusOr<RemoteDomain> DecodeLeadingDomain(Span payload) {
  XdrReader r(payload);
  return ReadDomain(r);
}

StatusOr<RemoteDomain> DecodeDomainAfterInt(Span payload) {
  XdrReader r(payload);
  TVD_RETURN_IF_ERROR(r.I32("callback id").status());
  return ReadDomain(r);
}

StatusOr<OpenArgs> DecodeOpenArgs(Span payload) {
  XdrReader r(payload);
  OpenArgs a;
  TVD_ASSIGN_OR_RETURN(a.name, r.OptionalString("connect uri", kStringMax));
  TVD_ASSIGN_OR_RETURN(a.flags, r.U32("connect flags"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("connect open arguments"));
  return a;
}

Bytes EncodeOpenArgs(const OpenArgs& a) {
  XdrWriter w;
  w.OptionalString(a.name);
  w.U32(a.flags);
  return w.Take();
}

StatusOr<XmlArgs> DecodeXmlArgs(Span payload, bool has_flags) {
  XdrReader r(payload);
  XmlArgs a;
  TVD_ASSIGN_OR_RETURN(a.xml, r.String("domain xml", kStringMax));
  if (has_flags) {
    TVD_ASSIGN_OR_RETURN(std::uint32_t flags, r.U32("flags"));
    a.flags = flags;
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("domain xml arguments"));
  return a;
}

Bytes EncodeXmlArgs(const XmlArgs& a) {
  XdrWriter w;
  w.String(a.xml);
  if (a.flags) w.U32(*a.flags);
  return w.Take();
}

StatusOr<std::string> DecodeStringRet(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::string s, r.String("string", kStringMax));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("string"));
  return s;
}

Bytes EncodeStringRet(const std::string& value) {
  XdrWriter w;
  w.String(value);
  return w.Take();
}

StatusOr<SetMetadataArgs> DecodeSetMetadataArgs(Span payload) {
  XdrReader r(payload);
  SetMetadataArgs a;
  TVD_ASSIGN_OR_RETURN(a.dom, ReadDomain(r));
  TVD_ASSIGN_OR_RETURN(a.type, r.I32("metadata type"));
  TVD_ASSIGN_OR_RETURN(a.metadata, r.OptionalString("metadata", kStringMax));
  TVD_ASSIGN_OR_RETURN(a.key, r.OptionalString("metadata key", kStringMax));
  TVD_ASSIGN_OR_RETURN(a.uri, r.OptionalString("metadata uri", kStringMax));
  TVD_ASSIGN_OR_RETURN(a.flags, r.U32("flags"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("set metadata arguments"));
  return a;
}

StatusOr<std::string> DecodeLookupByNameArgs(Span payload) {
  return DecodeStringRet(payload);
}

StatusOr<Uuid> DecodeLookupByUuidArgs(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(Uuid u, r.FixedUuid("uuid"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("lookup by uuid arguments"));
  return u;
}

StatusOr<std::int32_t> DecodeLookupByIdArgs(Span payload) {
  return DecodeInt(payload);
}

StatusOr<CallbackRegisterArgs> DecodeCallbackRegisterArgs(Span payload) {
  XdrReader r(payload);
  CallbackRegisterArgs a;
  TVD_ASSIGN_OR_RETURN(a.event_id, r.I32("event id"));
  TVD_ASSIGN_OR_RETURN(bool has_dom, r.Bool("event domain"));
  if (has_dom) {
    TVD_ASSIGN_OR_RETURN(RemoteDomain d, ReadDomain(r));
    a.dom = std::move(d);
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("event register arguments"));
  return a;
}

Bytes EncodeCallbackRegisterArgs(const CallbackRegisterArgs& a) {
  XdrWriter w;
  w.I32(a.event_id);
  w.Bool(a.dom.has_value());
  if (a.dom) WriteDomain(w, *a.dom);
  return w.Take();
}

StatusOr<AllDomainStatsArgs> DecodeAllDomainStatsArgs(Span payload) {
  XdrReader r(payload);
  AllDomainStatsArgs a;
  TVD_ASSIGN_OR_RETURN(std::uint32_t n,
                       ReadCount(r, "stats domains", kDomainListMax));
  for (std::uint32_t i = 0; i < n; ++i) {
    TVD_ASSIGN_OR_RETURN(RemoteDomain d, ReadDomain(r));
    a.doms.push_back(std::move(d));
  }
  TVD_ASSIGN_OR_RETURN(a.stats, r.U32("stats"));
  TVD_ASSIGN_OR_RETURN(a.flags, r.U32("flags"));
  TVD_RETURN_IF_ERROR(r.ExpectEnd("domain stats arguments"));
  return a;
}

StatusOr<std::vector<DomainStatsRecord>> DecodeAllDomainStatsRet(Span payload) {
  XdrReader r(payload);
  TVD_ASSIGN_OR_RETURN(std::uint32_t n,
                       ReadCount(r, "stats records", kDomainListMax));
  std::vector<DomainStatsRecord> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::size_t start = r.offset();
    DomainStatsRecord rec;
    TVD_ASSIGN_OR_RETURN(rec.dom, ReadDomain(r));
    TVD_ASSIGN_OR_RETURN(std::uint32_t params,
                         ReadCount(r, "stats parameters", kTypedParamsMax));
    for (std::uint32_t j = 0; j < params; ++j) {
      TVD_RETURN_IF_ERROR(SkipTypedParam(r));
    }
    rec.raw.assign(payload.begin() + static_cast<std::ptrdiff_t>(start),
                   payload.begin() + static_cast<std::ptrdiff_t>(r.offset()));
    out.push_back(std::move(rec));
  }
  TVD_RETURN_IF_ERROR(r.ExpectEnd("domain stats"));
  return out;
}

Bytes EncodeAllDomainStatsRet(const std::vector<DomainStatsRecord>& records) {
  XdrWriter w;
  w.U32(static_cast<std::uint32_t>(records.size()));
  for (const DomainStatsRecord& rec : records) w.Raw(rec.raw);
  return w.Take();
}

}  // namespace tvd::libvirt_filter

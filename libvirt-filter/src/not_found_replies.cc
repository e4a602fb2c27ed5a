#include "tvd/libvirt_filter/not_found_replies.h"

#include <openssl/rand.h>

#include "tvd/libvirt_filter/libvirt_client.h"
#include "tvd/log.h"

namespace tvd::libvirt_filter {

namespace {

NotFoundTemplate Generic(const std::string& detail, std::string name_token,
                         std::string uuid_token) {
  NotFoundTemplate t;
  t.error = NoDomainError(detail);
  t.error.domain = kFromDom;
  t.error.int1 = -1;
  t.error.int2 = -1;
  t.name_token = std::move(name_token);
  t.uuid_token = std::move(uuid_token);
  return t;
}

void ReplaceAll(std::optional<std::string>& text, const std::string& token,
                const std::string& value) {
  if (!text || token.empty()) return;
  std::size_t at = 0;
  while ((at = text->find(token, at)) != std::string::npos) {
    text->replace(at, token.size(), value);
    at += value.size();
  }
}

constexpr char kNameToken[] = "@NAME@";
constexpr char kUuidToken[] = "@UUID@";

// Asks libvirtd; on a "domain not found" error returns it as a template
// with the probe values as tokens.
void Probe(AdminConnection& admin, std::int32_t procedure,
           const std::vector<std::uint8_t>& args, const std::string& name,
           const std::string& uuid, NotFoundTemplate& out) {
  StatusOr<LibvirtClient::Reply> reply = admin.Call(procedure, args);
  if (!reply.ok() || reply->status != MessageStatus::kError) return;
  StatusOr<RemoteError> error = DecodeError(reply->payload);
  if (!error.ok() || error->code != kErrNoDomain) return;
  NotFoundTemplate t;
  t.error = std::move(error).value();
  t.error.dom.reset();
  for (auto* text :
       {&t.error.message, &t.error.str1, &t.error.str2, &t.error.str3}) {
    ReplaceAll(*text, uuid, kUuidToken);
    ReplaceAll(*text, name, kNameToken);
  }
  t.name_token = kNameToken;
  t.uuid_token = kUuidToken;
  out = std::move(t);
}

}  // namespace

NotFoundReplies::NotFoundReplies()
    : by_name_(
          Generic("no domain with matching name '@NAME@'", kNameToken, "")),
      by_uuid_(
          Generic("no domain with matching uuid '@UUID@'", "", kUuidToken)),
      by_id_(Generic("no domain with matching id @NAME@", kNameToken, "")),
      for_domain_(Generic("no domain with matching uuid '@UUID@' (@NAME@)",
                          kNameToken, kUuidToken)) {}

void NotFoundReplies::Learn(AdminConnection& admin) {
  Uuid uuid{};
  RAND_bytes(uuid.data(), static_cast<int>(uuid.size()));
  uuid[6] = static_cast<std::uint8_t>((uuid[6] & 0x0f) | 0x40);
  std::string uuid_text = UuidToString(uuid);
  std::string name = "tvd-relay-probe-" + uuid_text.substr(0, 8);
  // An id libvirt never hands out (ids count up from 1).
  const std::int32_t id = 2147483000;
  Probe(admin, kProcDomainLookupByName, EncodeStringRet(name), name, "",
        by_name_);
  XdrWriter w;
  w.FixedUuid(uuid);
  Probe(admin, kProcDomainLookupByUuid, w.Take(), "", uuid_text, by_uuid_);
  Probe(admin, kProcDomainLookupById, EncodeInt(id), std::to_string(id), "",
        by_id_);
  XdrWriter d;
  WriteDomain(d, RemoteDomain{name, uuid, -1});
  Probe(admin, kProcDomainIsActive, d.Take(), name, uuid_text, for_domain_);
}

RemoteError NotFoundReplies::Render(const NotFoundTemplate& t,
                                    const std::string& name,
                                    const std::string& uuid) {
  RemoteError e = t.error;
  for (auto* text : {&e.message, &e.str1, &e.str2, &e.str3}) {
    ReplaceAll(*text, t.uuid_token, uuid);
    ReplaceAll(*text, t.name_token, name);
  }
  return e;
}

RemoteError NotFoundReplies::ByName(const std::string& name) const {
  return Render(by_name_, name, "");
}

RemoteError NotFoundReplies::ByUuid(const Uuid& uuid) const {
  return Render(by_uuid_, "", UuidToString(uuid));
}

RemoteError NotFoundReplies::ById(std::int32_t id) const {
  return Render(by_id_, std::to_string(id), "");
}

RemoteError NotFoundReplies::ForDomain(const RemoteDomain& dom) const {
  return Render(for_domain_, dom.name, UuidToString(dom.uuid));
}

}  // namespace tvd::libvirt_filter

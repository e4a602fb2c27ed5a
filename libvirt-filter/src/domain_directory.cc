#include "tvd/libvirt_filter/domain_directory.h"

#include "tvd/libvirt_filter/domain_xml.h"
#include "tvd/log.h"
#include "tvd/mutex.h"

namespace tvd::libvirt_filter {

StatusOr<std::string> OwnershipCache::OwnerOf(const RemoteDomain& dom) {
  std::uint64_t generation;
  {
    MutexLock lock(mu_);
    auto it = owners_.find(dom.uuid);
    if (it != owners_.end()) return it->second;
    generation = generation_;
  }
  StatusOr<std::string> xml_or = directory_.GetXmlDesc(dom);
  if (!xml_or.ok()) {
    if (xml_or.status().code() == ErrorCode::kNotFound) {
      MutexLock lock(mu_);
      auto it = previous_.find(dom.uuid);
      if (it != previous_.end()) return it->second;
    }
    return xml_or.status();
  }
  std::string xml = std::move(xml_or).value();
  StatusOr<std::string> owner = OwnerFromDomainXml(xml);
  if (!owner.ok()) {
    // A domain whose XML the relay cannot read belongs to nobody.
    log::Warning("domain ", UuidToString(dom.uuid),
                 ": cannot read TVD metadata: ", owner.status().message());
    owner = std::string();
  }
  MutexLock lock(mu_);
  if (generation == generation_) owners_[dom.uuid] = *owner;
  return *owner;
}

bool OwnershipCache::Owns(const std::string& tvd, const RemoteDomain& dom) {
  if (tvd.empty()) return false;
  StatusOr<std::string> owner = OwnerOf(dom);
  return owner.ok() && *owner == tvd;
}

void OwnershipCache::Set(const Uuid& uuid, std::string owner) {
  MutexLock lock(mu_);
  ++generation_;
  owners_[uuid] = std::move(owner);
}

void OwnershipCache::Invalidate(const Uuid& uuid) {
  MutexLock lock(mu_);
  ++generation_;
  auto it = owners_.find(uuid);
  if (it == owners_.end()) return;
  if (previous_.size() >= 4096) previous_.erase(previous_.begin());
  previous_[uuid] = std::move(it->second);
  owners_.erase(it);
}

void OwnershipCache::Clear() {
  MutexLock lock(mu_);
  ++generation_;
  owners_.clear();
}

std::size_t OwnershipCache::size() const {
  MutexLock lock(mu_);
  return owners_.size();
}

}  // namespace tvd::libvirt_filter

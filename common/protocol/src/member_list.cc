#include "tvd/protocol/member_list.h"

#include <optional>
#include <utility>

namespace tvd::protocol {

MemberList::MemberList(const std::vector<Member>& members) {
  for (const Member& m : members) members_[m.host] = m.underlay;
}

Status MemberList::Apply(const MembershipUpdate& update) {
  // What each change replaced, to undo them all should one not fit.
  std::vector<std::pair<std::string, std::optional<std::string>>> undo;
  auto roll_back = [&] {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      if (it->second) {
        members_[it->first] = *it->second;
      } else {
        members_.erase(it->first);
      }
    }
  };
  for (const MemberChange& c : update.changes) {
    auto it = members_.find(c.member.host);
    std::optional<std::string> before;
    if (it != members_.end()) before = it->second;
    if (c.change == MembershipChange::kJoined) {
      undo.emplace_back(c.member.host, std::move(before));
      members_[c.member.host] = c.member.underlay;
    } else if (it == members_.end()) {
      roll_back();
      return ProtocolError("MembershipUpdate: host " + c.member.host +
                           " left but is not a member");
    } else {
      undo.emplace_back(c.member.host, std::move(before));
      members_.erase(it);
    }
  }
  if (members_.size() != update.member_count) {
    std::size_t got = members_.size();
    roll_back();
    return ProtocolError("MembershipUpdate: " + std::to_string(got) +
                         " members after the changes, the master counts " +
                         std::to_string(update.member_count));
  }
  return Status::Ok();
}

std::vector<Member> MemberList::Sorted() const {
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [host, underlay] : members_) out.push_back({host, underlay});
  return out;
}

}  // namespace tvd::protocol

// The member list of one TVD as a host holds it: the JoinGrant's list, kept
// current by applying each MembershipUpdate's changes (messages.h).
//
// Apply is all or nothing: a change that does not fit the list (a member
// leaving that is not in it) or a count that differs from the master's
// afterwards leaves the list as it was and answers ProtocolError
//   "MembershipUpdate: host X left but is not a member"
//   "MembershipUpdate: N members after the changes, the master counts M"
// (the host has missed an update and must join again for the whole list).
// Not thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::protocol {

class MemberList {
 public:
  MemberList() = default;
  explicit MemberList(const std::vector<Member>& members);

  Status Apply(const MembershipUpdate& update);

  std::size_t size() const { return members_.size(); }
  // Sorted by host.
  std::vector<Member> Sorted() const;

 private:
  std::map<std::string, std::string> members_;  // host -> underlay
};

}  // namespace tvd::protocol

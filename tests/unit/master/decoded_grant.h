// The JoinGrant a registry's join decided, decoded as the host reads it
// (JoinOutcome holds it encoded). A grant that does not decode fails the
// test and comes back empty.
#pragma once

#include <gtest/gtest.h>

#include "tvd/master/tvd_registry.h"
#include "tvd/protocol/messages.h"

namespace tvd::master::testing {

inline protocol::JoinGrant GrantOf(const JoinOutcome& outcome) {
  auto grant = protocol::DecodeJoinGrant(outcome.grant.view());
  EXPECT_TRUE(grant.ok()) << grant.status().ToString();
  return grant.ok() ? std::move(*grant) : protocol::JoinGrant{};
}

}  // namespace tvd::master::testing

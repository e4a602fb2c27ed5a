// ADDR:PORT,ADDR:PORT,...: a list of TCP endpoints on a command line or in a
// config file, where a client may reach any of several servers (the master
// replicas a host or tvdctl fails over across: docs/host.md, "Fail-over
// across master replicas").
//
// Each entry is one ADDRESS:PORT of endpoint.h under the caller's rules;
// spaces and tabs around an entry are ignored ("a:1, b:2" in a config
// file). The order is kept: clients try the entries in it.
//
// A text without a comma is exactly one ParseEndpoint: its errors are
// ParseEndpoint's, word for word, so a single endpoint behaves as before
// lists existed. With commas, the errors (InvalidArgument), the text
// quoted, are:
//   "'T' lists N endpoints; at most M"            (checked first)
//   "'T': entry I is empty"                       "a,,b", "a,", ",a"
//   "'T': entry I: WHY"                           WHY from ParseEndpoint
//   "'T': entry I (E) repeats entry J"            the same address and port
// where I and J count from 1. Two entries are the same when their ports are
// equal and their addresses are the same IP address (compared as bytes, so
// "[::1]" and "[0:0::1]" are one) or the same host name, letters compared
// without case.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "tvd/daemon/endpoint.h"
#include "tvd/status.h"

namespace tvd::daemon {

// The most entries a list may have: every master replica a client may know.
inline constexpr std::size_t kMaxEndpointList = 16;

// Never empty on success. Fuzzed (tests/fuzz/endpoint_list).
StatusOr<std::vector<Endpoint>> ParseEndpointList(
    std::string_view text, const EndpointRules& rules = {},
    std::size_t max_entries = kMaxEndpointList);

// The text form again: the entries' ToString() joined by ",", which
// ParseEndpointList reads back to the same list.
std::string EndpointListToString(const std::vector<Endpoint>& endpoints);

// True when `a` and `b` name the same endpoint by the rule above.
bool SameEndpoint(const Endpoint& a, const Endpoint& b);

}  // namespace tvd::daemon

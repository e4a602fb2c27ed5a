// The guest quotes the master has asked hosts for and not yet received:
// a tenant's deep quote (docs/vtpm.md) waits here for the host's
// GuestQuoteReport, which arrives on another connection, later.
//
// Orders are few and short (one per VM at a time, a bounded number in
// all); an answer counts only from the host the order went to and for the
// VM it named. An order nobody waits for any more (answered, timed out)
// is gone, so a late or repeated answer is refused, never kept.
//
// Thread-safe. Time is passed in (the waits' deadlines).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tvd/mutex.h"
#include "tvd/protocol/messages.h"
#include "tvd/status.h"

namespace tvd::master {

class GuestQuoteBroker {
 public:
  explicit GuestQuoteBroker(std::size_t max_open = 32)
      : max_open_(max_open) {}

  // Opens an order for VM `vm` of `tvd`, asked of `host`; returns its id.
  //   ResourceExhausted "a deep quote of VM V of TVD T is already under
  //     way" when an order for that VM is open;
  //   ResourceExhausted "N deep quotes are under way, the limit" when
  //     max_open are.
  StatusOr<std::uint64_t> Open(const std::string& tvd, const std::string& vm,
                               const std::string& host);

  // The answer of `from_host`. The waiter of the order gets it.
  //   NotFound "no guest quote N is under way" (never opened, answered
  //     already, or given up);
  //   PermissionDenied "guest quote N was asked of host H, not G";
  //   PermissionDenied "guest quote N is for VM V of TVD T, not W of U".
  Status Fulfil(const std::string& from_host,
                const protocol::GuestQuoteReport& report);

  // Waits for the answer to order `id` until `deadline`, then closes the
  // order either way. Unavailable "host H did not answer within N ms"
  // (N: `waited`, for the message) when the deadline passed; NotFound
  // for an id that is not open.
  StatusOr<protocol::GuestQuoteReport> Wait(
      std::uint64_t id, std::chrono::steady_clock::time_point deadline,
      std::chrono::milliseconds waited);

  // Orders open now.
  std::size_t open() const;

 private:
  struct Order {
    std::string tvd;
    std::string vm;
    std::string host;
    std::optional<protocol::GuestQuoteReport> answer;
  };
  const std::size_t max_open_;
  mutable Mutex mutex_;
  CondVar answered_;
  std::uint64_t next_id_ TVD_GUARDED_BY(mutex_) = 1;
  std::map<std::uint64_t, Order> orders_ TVD_GUARDED_BY(mutex_);
};

}  // namespace tvd::master

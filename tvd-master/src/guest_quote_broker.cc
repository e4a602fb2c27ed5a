#include "tvd/master/guest_quote_broker.h"

namespace tvd::master {

StatusOr<std::uint64_t> GuestQuoteBroker::Open(const std::string& tvd,
                                               const std::string& vm,
                                               const std::string& host) {
  MutexLock lock(mutex_);
  for (const auto& [id, o] : orders_) {
    if (o.tvd == tvd && o.vm == vm) {
      return ResourceExhausted("a deep quote of VM " + vm + " of TVD " + tvd +
                               " is already under way");
    }
  }
  if (orders_.size() >= max_open_) {
    return ResourceExhausted(std::to_string(orders_.size()) +
                             " deep quotes are under way, the limit");
  }
  const std::uint64_t id = next_id_++;
  orders_.emplace(id, Order{tvd, vm, host, std::nullopt});
  return id;
}

Status GuestQuoteBroker::Fulfil(const std::string& from_host,
                                const protocol::GuestQuoteReport& report) {
  {
    MutexLock lock(mutex_);
    auto it = orders_.find(report.id);
    if (it == orders_.end() || it->second.answer) {
      return NotFound("no guest quote " + std::to_string(report.id) +
                      " is under way");
    }
    Order& o = it->second;
    if (o.host != from_host) {
      return PermissionDenied("guest quote " + std::to_string(report.id) +
                              " was asked of host " + o.host + ", not " +
                              from_host);
    }
    if (o.tvd != report.tvd || o.vm != report.vm) {
      return PermissionDenied("guest quote " + std::to_string(report.id) +
                              " is for VM " + o.vm + " of TVD " + o.tvd +
                              ", not " + report.vm + " of " + report.tvd);
    }
    o.answer = report;
  }
  answered_.NotifyAll();
  return Status::Ok();
}

StatusOr<protocol::GuestQuoteReport> GuestQuoteBroker::Wait(
    std::uint64_t id, std::chrono::steady_clock::time_point deadline,
    std::chrono::milliseconds waited) {
  MutexLock lock(mutex_);
  auto it = orders_.find(id);
  if (it == orders_.end()) {
    return NotFound("no guest quote " + std::to_string(id) + " is under way");
  }
  while (!it->second.answer) {
    if (!answered_.WaitUntil(mutex_, deadline) && !it->second.answer) {
      const std::string host = it->second.host;
      orders_.erase(it);
      return Unavailable("host " + host + " did not answer within " +
                         std::to_string(waited.count()) + " ms");
    }
  }
  protocol::GuestQuoteReport answer = std::move(*it->second.answer);
  orders_.erase(it);
  return answer;
}

std::size_t GuestQuoteBroker::open() const {
  MutexLock lock(mutex_);
  return orders_.size();
}

}  // namespace tvd::master

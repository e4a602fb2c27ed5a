// Fuzzes the TCG event log parser, its replay and the measured-boot check:
// any bytes give a log or an error, never a crash. A parsed log's events
// lie inside the input in order; the replay matches a quote of its own
// values and no other; a log cut before its last event still parses, one
// event shorter; a policy drafted from a log accepts that log, and the
// check with an empty policy refuses any log with firmware, applications
// or other events that a policy must list.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tvd/attest/event_log.h"
#include "tvd/attest/measured_boot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace tvd::attest;
  std::span<const std::uint8_t> bytes(data, size);
  auto log = ParseEventLog(bytes);
  if (!log.ok()) {
    if (log.status().code() != tvd::ErrorCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (log->events.size() > kMaxEventLogEvents) std::abort();
  std::size_t previous = 0;
  for (std::size_t i = 0; i < log->events.size(); ++i) {
    const TcgEvent& e = log->events[i];
    if (e.offset <= previous || e.pcr > kMaxEventLogPcr) std::abort();
    // The event's own copy of its data is the last bytes of the event.
    const std::size_t end =
        i + 1 < log->events.size() ? log->events[i + 1].offset : size;
    if (e.data.size() > end - e.offset ||
        !std::equal(e.data.begin(), e.data.end(), data + end - e.data.size())) {
      std::abort();
    }
    previous = e.offset;
  }

  EventLogPcrs pcrs = ReplayEventLog(*log);
  std::vector<PcrValue> quoted;
  for (std::uint32_t i = 0; i < kEventLogPcrs; ++i)
    quoted.push_back({i, pcrs[i]});
  if (!CheckEventLogReplay(pcrs, quoted).ok()) std::abort();
  quoted[size % kEventLogPcrs].value[0] ^= 1;
  if (CheckEventLogReplay(pcrs, quoted).ok()) std::abort();

  if (!log->events.empty()) {
    auto shorter = ParseEventLog(bytes.first(log->events.back().offset));
    if (!shorter.ok() || shorter->events.size() + 1 != log->events.size()) {
      std::abort();
    }
  }

  auto draft = DraftMeasuredBootPolicy(*log);
  if (draft.ok() && !CheckMeasuredBoot(*log, *draft).ok()) std::abort();
  tvd::Status empty = CheckMeasuredBoot(*log, MeasuredBootPolicy{});
  if (empty.ok() && draft.ok() &&
      (!draft->firmware.empty() || !draft->bootloader.empty() ||
       !draft->events.empty())) {
    std::abort();
  }
  return 0;
}

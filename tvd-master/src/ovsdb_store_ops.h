// The OVSDB operations (RFC 7047 section 5.2) of each OvsdbStore write, as
// pure functions: the store sends one write's operations as a transaction
// of their own, and a batch (OvsdbStoreBatch) sends many writes' operations
// as one. Each list is safe to apply twice and needs nothing read first:
// rows are replaced whole (delete, then insert, in the same transaction),
// so the outcome never depends on whether a row was there.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tvd/master/state_store.h"
#include "tvd/status.h"

namespace tvd::master::ovsdb_ops {

using Json = nlohmann::json;

// A where clause of `column == value` conditions.
Json And(std::initializer_list<std::pair<const char*, Json>> eqs);
// A wait (timeout 0) that rows matching `where` hold exactly `rows` in
// `columns`.
Json Wait(const std::string& table, Json where, std::vector<std::string> cols,
          Json rows_expected);

// OVSDB integers are signed 64-bit: larger amounts are stored as the
// maximum, as in the SQLite store.
std::int64_t Clamped(std::uint64_t v);

// InvalidArgument "epoch N is out of range for the state store" beyond
// the signed 64-bit range of OVSDB integers.
Status CheckEpoch(std::uint64_t epoch);

// InvalidArgument "TPM clock N is out of range for the state db" beyond
// the signed 64-bit range.
Status CheckClock(std::uint64_t clock);
// Whether `a` is a later TPM state than `b` (reset count, restart count,
// clock, in that order).
bool Later(const AkClockRow& a, const AkClockRow& b);

Json PutTvd(const TvdRow& r);
Json RemoveTvd(const std::string& name);
Json SetEpoch(const std::string& tvd, std::uint64_t epoch);
// Operation 0 is the wait on the TVD row's token (or on its absence when
// the transition creates the TVD); `now` is the new memberships' `since`.
Json Transition(const TvdTransition& t, std::int64_t now);
Json Host(const std::string& host, const std::string& underlay);
Json Attestation(const std::string& host, bool ok, const std::string& reason,
                 std::int64_t at);
Json AddAk(const std::string& host, const std::vector<std::uint8_t>& ak);
Json AddMember(const std::string& tvd, const std::string& host,
               std::int64_t now);
Json RemoveMember(const std::string& tvd, const std::string& host);
Json SetVm(const std::string& tvd, const std::string& host,
           const std::string& vm, bool attached, const std::string& uuid);
Json PutQuotaUsage(const QuotaUsageRow& r);
// The AK's clock row becomes `row`, under a wait (operation 0) that it
// still holds `seen` (nullopt: that there is no row).
Json PutAkClock(const AkClockRow& row, const std::optional<AkClockRow>& seen,
                std::int64_t now);
// One audit row; `id` comes from the ids this store reserved
// (OvsdbStore), `token` tells the row apart when it is sent twice.
Json InsertAudit(std::int64_t id, const std::string& token, std::int64_t at,
                 const std::string& actor, const std::string& action,
                 const std::string& subject, bool allowed,
                 const std::string& reason);

}  // namespace tvd::master::ovsdb_ops

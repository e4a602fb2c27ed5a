// The overview as text tables (tvdctl), JSON (tvdctl --json and
// /overview.json; docs/overview.md documents the format), an SVG picture of
// TVDs across hosts, and the self-refreshing HTML page the web overview
// serves. Pure functions of the model; every name from the network is
// escaped for the format it lands in.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "tvd/overview/model.h"

namespace tvd::overview {

inline constexpr int kOverviewJsonVersion = 1;

// A summary line, the TVD table (one row per TVD and host: attestation,
// connection, VMs with their state) and the host table (up/down,
// attestation, TVDs, CPU, load, free vCPUs, memory free/total, domains),
// then any source errors.
void RenderText(const Overview& overview, std::ostream& out);

// The JSON document of docs/overview.md ("version": 1).
nlohmann::json RenderJson(const Overview& overview);

// A standalone SVG document: hosts as columns (name, up/down, attestation,
// free resources), TVDs as coloured bands across them with one box per host
// the TVD spans, listing its VMs there. No scripts, no external references.
std::string RenderSvg(const Overview& overview);

// The HTML page: summary, the SVG inline, the two tables, source errors.
// `refresh_seconds` > 0 adds <meta http-equiv="refresh">. No scripts, no
// external resources (the server sends a CSP that forbids them anyway).
std::string RenderHtml(const Overview& overview, int refresh_seconds);

// "1.5 GiB" / "512 MiB" / "900 KiB" from KiB.
std::string FormatKib(std::uint64_t kib);

}  // namespace tvd::overview

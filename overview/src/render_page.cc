// The SVG picture and the HTML page around it.
#include <time.h>

#include <algorithm>
#include <array>
#include <sstream>

#include "tvd/overview/render.h"
#include "tvd/xml_escape.h"

namespace tvd::overview {

namespace {

// Layout of the picture, in SVG user units (pixels at 100 %).
constexpr int kLabelWidth = 150;   // TVD names on the left
constexpr int kColumnWidth = 210;  // one host
constexpr int kColumnGap = 12;
constexpr int kHeaderHeight = 104;  // host boxes at the top
constexpr int kLineHeight = 16;
constexpr int kBandPadding = 10;
constexpr int kMargin = 10;

struct Colour {
  const char* fill;
  const char* band;
  const char* stroke;
};
// Distinct, colour-blind-friendly hues; TVDs take them in name order.
constexpr std::array<Colour, 6> kPalette = {{
    {"#4e79a7", "#dce6f2", "#2f4b66"},
    {"#e15759", "#f9dcdc", "#8a3536"},
    {"#59a14f", "#deefdc", "#365f30"},
    {"#f28e2b", "#fce6d0", "#93561a"},
    {"#b07aa1", "#efe3ec", "#6b4a62"},
    {"#76b7b2", "#e2f1f0", "#476f6c"},
}};

std::string Utc(std::int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "-";
  char buf[32];
  if (strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) return "-";
  return buf;
}

int ColumnX(std::size_t index) {
  return kMargin + kLabelWidth +
         static_cast<int>(index) * (kColumnWidth + kColumnGap);
}

// Rows of text inside a TVD's box on one host.
std::vector<std::string> BoxLines(const TvdOnHost& p) {
  std::vector<std::string> lines;
  if (!p.member) {
    lines.push_back("not a member");
  } else if (!p.attested) {
    lines.push_back("attestation FAILED");
  }
  for (const VmPlacement& vm : p.vms) {
    lines.push_back(vm.name + "  " +
                    (vm.seen_on_host ? vm.state : std::string("not running")));
  }
  if (lines.empty()) lines.push_back("no VMs");
  return lines;
}

}  // namespace

std::string RenderSvg(const Overview& o) {
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < o.hosts.size(); ++i) column[o.hosts[i].name] = i;
  const std::size_t columns = std::max<std::size_t>(1, o.hosts.size());

  std::vector<int> band_height;
  for (const TvdView& tvd : o.tvds) {
    std::size_t lines = 1;
    for (const TvdOnHost& p : tvd.hosts) {
      lines = std::max(lines, BoxLines(p).size());
    }
    band_height.push_back(static_cast<int>(lines) * kLineHeight +
                          2 * kBandPadding + 8);
  }
  int height = kMargin + kHeaderHeight + 2 * kMargin;
  for (int h : band_height) height += h + kMargin;
  if (o.tvds.empty()) height += 40;
  const int width = ColumnX(columns) + kMargin - kColumnGap;

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"vdc-picture\" "
       "role=\"img\" width=\""
    << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
    << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<title>TVDs across the hosts of the VDC</title>\n";
  s << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
    << "\" fill=\"#ffffff\"/>\n";

  // Host columns: a header box with the host's state, and a faint column
  // running down behind the TVD bands.
  for (std::size_t i = 0; i < o.hosts.size(); ++i) {
    const HostView& h = o.hosts[i];
    const int x = ColumnX(i);
    const bool up = h.known_to_rm && h.up;
    const char* state_colour = up ? "#2e7d32" : "#c62828";
    s << "<g class=\"host\" data-host=\"" << EscapeXml(h.name) << "\">\n";
    s << "<rect x=\"" << x << "\" y=\"" << kMargin << "\" width=\""
      << kColumnWidth << "\" height=\"" << height - 2 * kMargin
      << "\" rx=\"6\" fill=\"#f5f5f5\" stroke=\"#bdbdbd\"/>\n";
    s << "<rect x=\"" << x << "\" y=\"" << kMargin << "\" width=\""
      << kColumnWidth << "\" height=\"" << kHeaderHeight
      << "\" rx=\"6\" fill=\"#eceff1\" stroke=\"" << state_colour
      << "\" stroke-width=\"2\"/>\n";
    s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 20
      << "\" font-size=\"14\" font-weight=\"bold\">" << EscapeXml(h.name)
      << "</text>\n";
    const std::string state =
        !h.known_to_rm ? "no rm-agent" : (h.up ? "up" : "down");
    std::string attestation =
        !h.known_to_master ? "not known to master"
                           : (h.attested ? "attested" : "attestation FAILED");
    s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 38 << "\" fill=\""
      << state_colour << "\">" << EscapeXml(state) << " · "
      << EscapeXml(attestation) << "</text>\n";
    if (h.resources) {
      const NodeResources& r = *h.resources;
      s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 56 << "\">"
        << r.free_vcpus << " of " << r.cpus << " vCPUs free</text>\n";
      s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 72 << "\">"
        << EscapeXml(FormatKib(r.free_mem_kib)) << " of "
        << EscapeXml(FormatKib(r.mem_total_kib)) << " free</text>\n";
    } else {
      s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 56
        << "\" fill=\"#757575\">no resource report</text>\n";
    }
    s << "<text x=\"" << x + 10 << "\" y=\"" << kMargin + 90 << "\">"
      << h.domains.size() << " domains</text>\n";
    s << "</g>\n";
  }

  // TVD bands: a tinted band across the picture, the TVD's name on the
  // left, one solid box in the column of every host the TVD spans.
  int y = kMargin + kHeaderHeight + kMargin;
  for (std::size_t t = 0; t < o.tvds.size(); ++t) {
    const TvdView& tvd = o.tvds[t];
    const Colour& c = kPalette[t % kPalette.size()];
    const int h = band_height[t];
    s << "<g class=\"tvd\" data-tvd=\"" << EscapeXml(tvd.name) << "\">\n";
    s << "<rect x=\"" << kMargin << "\" y=\"" << y << "\" width=\""
      << width - 2 * kMargin << "\" height=\"" << h << "\" rx=\"8\" fill=\""
      << c.band << "\" fill-opacity=\"0.85\" stroke=\"" << c.fill << "\"/>\n";
    s << "<text x=\"" << kMargin + 10 << "\" y=\"" << y + 22
      << "\" font-size=\"14\" font-weight=\"bold\" fill=\"" << c.stroke << "\">"
      << EscapeXml(tvd.name) << "</text>\n";
    s << "<text x=\"" << kMargin + 10 << "\" y=\"" << y + 40 << "\" fill=\""
      << c.stroke << "\">"
      << (tvd.known_to_master ? std::to_string(tvd.hosts.size()) +
                                    " hosts, epoch " + std::to_string(tvd.epoch)
                              : std::string("unknown to master"))
      << "</text>\n";
    for (const TvdOnHost& p : tvd.hosts) {
      auto col = column.find(p.host);
      if (col == column.end()) continue;
      const int x = ColumnX(col->second) + 6;
      const bool healthy = p.member && p.attested;
      s << "<g class=\"tvd-host\" data-tvd=\"" << EscapeXml(tvd.name)
        << "\" data-host=\"" << EscapeXml(p.host) << "\">\n";
      s << "<rect x=\"" << x << "\" y=\"" << y + 4 << "\" width=\""
        << kColumnWidth - 12 << "\" height=\"" << h - 8 << "\" rx=\"6\" fill=\""
        << c.fill << "\" stroke=\"" << (healthy ? c.stroke : "#c62828")
        << "\" stroke-width=\"" << (healthy ? 1 : 3) << "\"";
      if (!healthy) s << " stroke-dasharray=\"6 3\"";
      s << "/>\n";
      int line_y = y + 4 + kBandPadding + 12;
      for (const std::string& line : BoxLines(p)) {
        s << "<text x=\"" << x + 10 << "\" y=\"" << line_y
          << "\" fill=\"#ffffff\">" << EscapeXml(line) << "</text>\n";
        line_y += kLineHeight;
      }
      s << "</g>\n";
    }
    s << "</g>\n";
    y += h + kMargin;
  }
  if (o.tvds.empty()) {
    s << "<text x=\"" << kMargin + 10 << "\" y=\"" << y + 20
      << "\" fill=\"#757575\">no TVDs</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string RenderHtml(const Overview& o, int refresh_seconds) {
  const Totals t = ComputeTotals(o);
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
       "charset=\"utf-8\">\n";
  if (refresh_seconds > 0) {
    s << "<meta http-equiv=\"refresh\" content=\"" << refresh_seconds
      << "\">\n";
  }
  s << "<title>VDC overview</title>\n<style>\n"
       "body{font-family:sans-serif;margin:16px;color:#212121}\n"
       "table{border-collapse:collapse;margin:8px 0 20px}\n"
       "th,td{border:1px solid #bdbdbd;padding:3px 8px;text-align:left;"
       "vertical-align:top}\n"
       "th{background:#eceff1}\n.bad{color:#c62828;font-weight:bold}\n"
       ".ok{color:#2e7d32}\n.errors{border:2px solid #c62828;padding:8px}\n"
       "</style>\n</head>\n<body>\n";
  s << "<h1>VDC overview</h1>\n<p id=\"summary\">" << t.tvds << " TVDs, "
    << t.hosts << " hosts (" << t.hosts_up << " up), " << t.vms
    << " TVD VMs; free on hosts that are up: " << t.free_vcpus << " vCPUs, "
    << EscapeXml(FormatKib(t.free_mem_kib)) << " memory. Generated "
    << EscapeXml(Utc(o.generated_at))
    << " (master: " << (o.master.ok ? "ok" : "FAILED")
    << ", rm-server: " << (o.rm.ok ? "ok" : "FAILED") << ").</p>\n";
  if (!o.master.ok || !o.rm.ok) {
    s << "<div class=\"errors\" id=\"errors\">\n";
    for (const SourceState* src : {&o.master, &o.rm}) {
      if (!src->ok)
        s << "<p class=\"bad\">" << EscapeXml(src->error) << "</p>\n";
    }
    s << "</div>\n";
  }
  s << "<div id=\"picture\">\n" << RenderSvg(o) << "</div>\n";

  s << "<h2>TVDs</h2>\n<table id=\"tvds\">\n<tr><th>TVD</th><th>ID</th>"
       "<th>Epoch</th><th>Host</th><th>Attestation</th><th>Connected</th>"
       "<th>VMs</th></tr>\n";
  for (const TvdView& tvd : o.tvds) {
    const std::size_t rows = std::max<std::size_t>(1, tvd.hosts.size());
    s << "<tr data-tvd=\"" << EscapeXml(tvd.name) << "\"><td rowspan=\"" << rows
      << "\">" << EscapeXml(tvd.name)
      << (tvd.known_to_master ? ""
                              : " <span class=\"bad\">(unknown to "
                                "master)</span>")
      << "</td><td rowspan=\"" << rows << "\">"
      << (tvd.known_to_master ? std::to_string(tvd.id) : "-")
      << "</td><td rowspan=\"" << rows << "\">"
      << (tvd.known_to_master ? std::to_string(tvd.epoch) : "-") << "</td>";
    if (tvd.hosts.empty())
      s << "<td>-</td><td>-</td><td>-</td><td>-</td></tr>\n";
    bool first = true;
    for (const TvdOnHost& p : tvd.hosts) {
      if (!first) s << "<tr data-tvd=\"" << EscapeXml(tvd.name) << "\">";
      first = false;
      std::string vms;
      for (const VmPlacement& vm : p.vms) {
        vms += (vms.empty() ? "" : ", ") + EscapeXml(vm.name) + " (" +
               EscapeXml(vm.seen_on_host ? vm.state : "not running") + ")";
      }
      s << "<td>" << EscapeXml(p.host) << (p.member ? "" : " (not a member)")
        << "</td><td class=\"" << (p.member && p.attested ? "ok" : "bad")
        << "\">"
        << (!p.member    ? "-"
            : p.attested ? "ok"
                         : "FAILED " + EscapeXml(p.attestation_reason))
        << "</td><td>" << (p.member ? (p.connected ? "yes" : "no") : "-")
        << "</td><td>" << (vms.empty() ? "-" : vms) << "</td></tr>\n";
    }
  }
  s << "</table>\n";

  s << "<h2>Hosts</h2>\n<table id=\"hosts\">\n<tr><th>Host</th><th>State</th>"
       "<th>Attestation</th><th>TVDs</th><th>CPUs</th><th>Load</th>"
       "<th>Free vCPUs</th><th>Memory free / total</th><th>Domains</th>"
       "</tr>\n";
  for (const HostView& h : o.hosts) {
    std::string tvds;
    for (const std::string& name : h.tvds) {
      tvds += (tvds.empty() ? "" : ", ") + EscapeXml(name);
    }
    std::string domains;
    for (const DomainView& d : h.domains) {
      domains += (domains.empty() ? "" : ", ") + EscapeXml(d.name) + " (" +
                 EscapeXml(d.state) +
                 (d.tvd.empty() ? "" : ", " + EscapeXml(d.tvd)) + ")";
    }
    const bool up = h.known_to_rm && h.up;
    s << "<tr data-host=\"" << EscapeXml(h.name) << "\"><td>"
      << EscapeXml(h.name) << "</td><td class=\"" << (up ? "ok" : "bad")
      << "\">" << (!h.known_to_rm ? "no agent" : (h.up ? "up" : "down"))
      << "</td><td class=\""
      << (h.known_to_master && !h.attested ? "bad" : "ok") << "\">"
      << (!h.known_to_master ? "-"
          : h.attested       ? "ok"
                             : "FAILED " + EscapeXml(h.attestation_reason))
      << "</td><td>" << (tvds.empty() ? "-" : tvds) << "</td>";
    if (h.resources) {
      char load[32];
      std::snprintf(load, sizeof load, "%.2f", h.resources->load1);
      s << "<td>" << h.resources->cpus << "</td><td>" << load << "</td><td>"
        << h.resources->free_vcpus << "</td><td>"
        << EscapeXml(FormatKib(h.resources->mem_free_kib)) << " / "
        << EscapeXml(FormatKib(h.resources->mem_total_kib)) << "</td>";
    } else {
      s << "<td>-</td><td>-</td><td>-</td><td>-</td>";
    }
    s << "<td>" << (domains.empty() ? "-" : domains) << "</td></tr>\n";
  }
  s << "</table>\n</body>\n</html>\n";
  return s.str();
}

}  // namespace tvd::overview

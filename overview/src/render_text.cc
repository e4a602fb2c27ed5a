#include <time.h>

#include <algorithm>
#include <cstdio>

#include "tvd/overview/render.h"
#include "tvd/text_table.h"

namespace tvd::overview {

namespace {

using Row = std::vector<std::string>;

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string Utc(std::int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "-";
  char buf[32];
  if (strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) return "-";
  return buf;
}

std::string Attestation(bool known, bool attested, const std::string& reason) {
  if (!known) return "-";
  if (attested) return "ok";
  return reason.empty() ? "FAILED" : "FAILED: " + reason;
}

std::string VmList(const TvdOnHost& p) {
  std::string text;
  for (const VmPlacement& vm : p.vms) {
    if (!text.empty()) text += " ";
    text += vm.name + "(" + (vm.seen_on_host ? Dash(vm.state) : "not running") +
            ")";
  }
  return text.empty() ? "-" : text;
}

std::string Join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& s : items) text += (text.empty() ? "" : ",") + s;
  return text.empty() ? "-" : text;
}

std::string Load(double load) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", load);
  return buf;
}

}  // namespace

std::string FormatKib(std::uint64_t kib) {
  char buf[48];
  if (kib >= 1024ull * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f GiB",
                  static_cast<double>(kib) / (1024.0 * 1024.0));
  } else if (kib >= 1024) {
    std::snprintf(buf, sizeof buf, "%llu MiB",
                  static_cast<unsigned long long>(kib / 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%llu KiB",
                  static_cast<unsigned long long>(kib));
  }
  return buf;
}

void RenderText(const Overview& o, std::ostream& out) {
  const Totals t = ComputeTotals(o);
  out << "VDC overview at " << Utc(o.generated_at)
      << "  master: " << (o.master.ok ? "ok" : "FAILED")
      << "  rm-server: " << (o.rm.ok ? "ok" : "FAILED") << "\n"
      << t.tvds << " TVDs, " << t.hosts << " hosts (" << t.hosts_up << " up), "
      << t.vms << " TVD VMs; free on hosts that are up: " << t.free_vcpus
      << " vCPUs, " << FormatKib(t.free_mem_kib) << " memory\n\n";

  std::vector<Row> tvd_rows;
  for (const TvdView& tvd : o.tvds) {
    const std::string name =
        tvd.known_to_master ? tvd.name : tvd.name + " (unknown to master)";
    const std::string id = tvd.known_to_master ? std::to_string(tvd.id) : "-";
    const std::string epoch =
        tvd.known_to_master ? std::to_string(tvd.epoch) : "-";
    if (tvd.hosts.empty()) {
      tvd_rows.push_back({name, id, epoch, "-", "-", "-", "-"});
    }
    bool first = true;
    for (const TvdOnHost& p : tvd.hosts) {
      tvd_rows.push_back(
          {first ? name : "", first ? id : "", first ? epoch : "",
           p.host + (p.member ? "" : " (not a member)"),
           Attestation(p.member, p.attested, p.attestation_reason),
           p.member ? (p.connected ? "yes" : "no") : "-", VmList(p)});
      first = false;
    }
  }
  if (tvd_rows.empty()) {
    out << "no TVDs\n";
  } else {
    PrintTable(
        out, {"TVD", "ID", "EPOCH", "HOST", "ATTESTATION", "CONNECTED", "VMS"},
        tvd_rows);
  }
  out << "\n";

  std::vector<Row> host_rows;
  for (const HostView& h : o.hosts) {
    Row r{h.name, h.known_to_rm ? (h.up ? "up" : "down") : "no agent",
          Attestation(h.known_to_master, h.attested, h.attestation_reason),
          Join(h.tvds)};
    if (h.resources) {
      const NodeResources& res = *h.resources;
      r.insert(r.end(), {std::to_string(res.cpus), Load(res.load1),
                         std::to_string(res.free_vcpus),
                         FormatKib(res.mem_free_kib) + "/" +
                             FormatKib(res.mem_total_kib)});
    } else {
      r.insert(r.end(), {"-", "-", "-", "-"});
    }
    r.push_back(std::to_string(h.domains.size()));
    host_rows.push_back(std::move(r));
  }
  if (host_rows.empty()) {
    out << "no hosts\n";
  } else {
    PrintTable(out,
               {"HOST", "STATE", "ATTESTATION", "TVDS", "CPUS", "LOAD",
                "FREE VCPUS", "MEMORY FREE/TOTAL", "DOMAINS"},
               host_rows);
  }
  for (const SourceState* s : {&o.master, &o.rm}) {
    if (!s->ok) out << "\nerror: " << s->error << "\n";
  }
}

}  // namespace tvd::overview

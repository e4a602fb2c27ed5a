// Relay overhead, measured with libvirt's own C client library.
//
// Starts a private libvirtd (test driver) and the relay in this process,
// defines 10 domains for tenant blue and 10 for red, then for each path
// (direct: test+unix to libvirtd; dir-tls: libvirtd's own TLS port, no
// filtering; relay: test+tls through the relay as blue)
// and each connection count (1, 8; one thread per connection) runs
//   virDomainLookupByName + virDomainGetXMLDesc + virConnectListAllDomains
// in a loop for --seconds (default 3) and prints calls/s and p50/p99 per
// call kind. Then, on one connection per path, defines a typical
// virt-install document (disk in blue's storage, NIC on blue-data) and
// undefines it again, --defines times (default 200), and prints p50/p99 of
// each. Usage: bench_libvirt_filter [--seconds=N] [--defines=N]
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "relay_env.h"
#include "tvd/log.h"

namespace {

using Clock = std::chrono::steady_clock;
using tvd::libvirt_filter::testing::DomainXml;
using tvd::libvirt_filter::testing::RelayEnv;

struct Samples {
  std::vector<double> lookup, xml, list;  // microseconds
};

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(p * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

void Quiet(void*, virErrorPtr) {}

struct Result {
  double calls_per_second = 0;
  double p50[3]{}, p99[3]{};
};

Result Run(const std::string& uri, int connections, double seconds,
           int expected_domains) {
  std::vector<Samples> samples(connections);
  std::atomic<bool> go{false}, stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      virConnectPtr conn = virConnectOpen(uri.c_str());
      if (conn == nullptr) {
        ++failures;
        return;
      }
      std::string name = "blue-vm" + std::to_string(c % 10);
      while (!go) std::this_thread::yield();
      Samples& s = samples[c];
      while (!stop) {
        Clock::time_point t0 = Clock::now();
        virDomainPtr dom = virDomainLookupByName(conn, name.c_str());
        Clock::time_point t1 = Clock::now();
        char* xml = dom != nullptr ? virDomainGetXMLDesc(dom, 0) : nullptr;
        Clock::time_point t2 = Clock::now();
        virDomainPtr* all = nullptr;
        int n = virConnectListAllDomains(conn, &all, 0);
        Clock::time_point t3 = Clock::now();
        if (dom == nullptr || xml == nullptr || n != expected_domains)
          ++failures;
        for (int i = 0; i < n; ++i) virDomainFree(all[i]);
        free(all);
        free(xml);
        if (dom != nullptr) virDomainFree(dom);
        s.lookup.push_back(Micros(t1 - t0));
        s.xml.push_back(Micros(t2 - t1));
        s.list.push_back(Micros(t3 - t2));
      }
      virConnectClose(conn);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Clock::time_point start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  if (failures > 0)
    std::fprintf(stderr, "%d failed calls on %s\n", failures.load(),
                 uri.c_str());
  Samples all;
  for (auto& s : samples) {
    all.lookup.insert(all.lookup.end(), s.lookup.begin(), s.lookup.end());
    all.xml.insert(all.xml.end(), s.xml.begin(), s.xml.end());
    all.list.insert(all.list.end(), s.list.begin(), s.list.end());
  }
  Result r;
  r.calls_per_second = 3.0 * all.lookup.size() / elapsed;
  std::vector<double>* kinds[3] = {&all.lookup, &all.xml, &all.list};
  for (int k = 0; k < 3; ++k) {
    r.p50[k] = Percentile(*kinds[k], 0.50);
    r.p99[k] = Percentile(*kinds[k], 0.99);
  }
  return r;
}

// What `virt-install --print-xml --osinfo debian11 --import --disk
// path=/var/lib/tvd/blue/NAME.qcow2,format=qcow2 --network network=blue-data
// --graphics none` prints (tests/fuzz/domain_confinement), with the test
// driver's domain type and the host's emulator and disk format the relay
// pins.
std::string VirtInstallXml(const std::string& name) {
  return R"(<domain type="test">
  <name>)" +
         name +
         R"(</name>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/11"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory>1048576</memory>
  <currentMemory>1048576</currentMemory>
  <vcpu>2</vcpu>
  <os>
    <type arch="i686">hvm</type>
    <boot dev="hd"/>
  </os>
  <features>
    <pae/>
    <vmport state="off"/>
  </features>
  <clock offset="utc"/>
  <pm>
    <suspend-to-mem enabled="no"/>
    <suspend-to-disk enabled="no"/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/var/lib/tvd/blue/)" +
         name + R"(.qcow2"/>
      <target dev="hda" bus="ide"/>
    </disk>
    <controller type="usb" model="ich9-ehci1"/>
    <controller type="usb" model="ich9-uhci1">
      <master startport="0"/>
    </controller>
    <interface type="network">
      <source network="blue-data"/>
      <model type="e1000"/>
    </interface>
    <console type="pty"/>
    <input type="tablet" bus="usb"/>
  </devices>
</domain>
)";
}

struct DefineResult {
  double define50 = 0, define99 = 0, undefine50 = 0, undefine99 = 0;
  int failures = 0;
};

// virDomainDefineXML then virDomainUndefine of the same document, n times
// on one connection.
DefineResult DefineLatency(const std::string& uri, int n) {
  DefineResult r;
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    r.failures = n;
    return r;
  }
  std::string xml = VirtInstallXml("blue-bench-define");
  std::vector<double> define, undefine;
  for (int i = 0; i < n; ++i) {
    Clock::time_point t0 = Clock::now();
    virDomainPtr dom = virDomainDefineXML(conn, xml.c_str());
    Clock::time_point t1 = Clock::now();
    if (dom == nullptr) {
      ++r.failures;
      continue;
    }
    int rc = virDomainUndefine(dom);
    Clock::time_point t2 = Clock::now();
    virDomainFree(dom);
    if (rc != 0) ++r.failures;
    define.push_back(Micros(t1 - t0));
    undefine.push_back(Micros(t2 - t1));
  }
  virConnectClose(conn);
  r.define50 = Percentile(define, 0.50);
  r.define99 = Percentile(define, 0.99);
  r.undefine50 = Percentile(undefine, 0.50);
  r.undefine99 = Percentile(undefine, 0.99);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int defines = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0)
      seconds = std::atof(argv[i] + 10);
    if (std::strncmp(argv[i], "--defines=", 10) == 0)
      defines = std::atoi(argv[i] + 10);
  }
  virSetErrorFunc(nullptr, Quiet);
  tvd::log::SetLevel(tvd::log::Level::kWarning);
  // No per-tenant limits: the bench measures what the relay costs a call,
  // not the rate a tenant is allowed (the limits' own bookkeeping is still
  // on every call's path).
  tvd::libvirt_filter::RelayOptions options;
  options.tenant_limits = {0, 0, 1, 0};
  auto env = RelayEnv::Start(options, /*libvirtd_tls=*/true);
  if (!env.ok()) {
    std::fprintf(stderr, "set-up failed: %s\n",
                 env.status().ToString().c_str());
    return 1;
  }
  virConnectPtr admin = virConnectOpen((*env)->AdminUri().c_str());
  if (admin == nullptr) return 1;
  for (const char* tenant : {"blue", "red"}) {
    for (int i = 0; i < 10; ++i) {
      std::string xml =
          DomainXml(std::string(tenant) + "-vm" + std::to_string(i), tenant);
      virDomainPtr d = virDomainDefineXML(admin, xml.c_str());
      if (d == nullptr) return 1;
      virDomainFree(d);
    }
  }
  std::string direct = (*env)->AdminUri();
  std::string relay = (*env)->TenantUri("blue");
  std::string direct_tls = (*env)->LibvirtdTlsUri("blue");
  std::printf("%-7s %5s %12s %10s %10s %10s %10s %10s %10s\n", "path", "conns",
              "calls/s", "lookup50", "lookup99", "xml50", "xml99", "list50",
              "list99");
  for (int conns : {1, 8}) {
    // The direct run lists 21 domains (the test driver's own "test" too);
    // the tenant sees 10. Each run is checked for failed calls on stderr.
    for (const auto& [label, uri, expected] :
         {std::tuple{"direct", direct, 21},
          std::tuple{"dir-tls", direct_tls, 21},
          std::tuple{"relay", relay, 10}}) {
      Result r = Run(uri, conns, seconds, expected);
      std::printf("%-7s %5d %12.0f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n",
                  label, conns, r.calls_per_second, r.p50[0], r.p99[0],
                  r.p50[1], r.p99[1], r.p50[2], r.p99[2]);
      std::fflush(stdout);
    }
  }
  std::printf("\n%-7s %5s %10s %10s %10s %10s\n", "path", "n", "define50",
              "define99", "undef50", "undef99");
  for (const auto& [label, uri] :
       {std::pair{"direct", direct}, std::pair{"dir-tls", direct_tls},
        std::pair{"relay", relay}}) {
    DefineResult r = DefineLatency(uri, defines);
    if (r.failures > 0)
      std::fprintf(stderr, "%d failed defines on %s\n", r.failures,
                   uri.c_str());
    std::printf("%-7s %5d %10.1f %10.1f %10.1f %10.1f\n", label, defines,
                r.define50, r.define99, r.undefine50, r.undefine99);
    std::fflush(stdout);
  }
  virConnectClose(admin);
  return 0;
}

// A small VDC in the shapes the master and rm-server answer with, and fake
// sources serving it:
//   blue (id 1, epoch 3): node1 (attested; web1 running, web2 reported but
//        not running), node2 (attestation failed, no VMs)
//   red  (id 2):          node2 (db1 running)
//   green: unknown to the master; node2 runs a domain "stray" tagged green
//   node3: rm-agent down, never reported, unknown to the master
#pragma once

#include <nlohmann/json.hpp>

#include "tvd/overview/model.h"
#include "tvd/overview/sources.h"

namespace tvd::overview {

inline nlohmann::json MasterTvdsReply() {
  return nlohmann::json::parse(R"({"tvds":[
    {"name":"blue","id":1,"digest":"ab12","epoch":3,"source":"file",
     "networks":[{"name":"blue-data","kind":"data","vni":1001,"subnet":null}],
     "members":[
       {"host":"node1","underlay":"198.18.0.1","attested":true,
        "attestation_reason":"","attested_at":1700000000,"connected":true},
       {"host":"node2","underlay":"198.18.0.2","attested":false,
        "attestation_reason":"PCR 16 mismatch","attested_at":0,
        "connected":false}],
     "vms":[{"vm":"web1","host":"node1"},{"vm":"web2","host":"node1"}]},
    {"name":"red","id":2,"digest":"cd34","epoch":1,"source":"admin",
     "networks":[{"name":"red-data","kind":"data","vni":1002,"subnet":null}],
     "members":[
       {"host":"node2","underlay":"198.18.0.2","attested":false,
        "attestation_reason":"PCR 16 mismatch","attested_at":0,
        "connected":false}],
     "vms":[{"vm":"db1","host":"node2"}]}]})");
}

inline nlohmann::json MasterHostsReply() {
  return nlohmann::json::parse(R"({"hosts":[
    {"name":"node1","underlay":"198.18.0.1","attested":true,
     "attestation_reason":"","attested_at":1700000000,"tvds":["blue"]},
    {"name":"node2","underlay":"198.18.0.2","attested":false,
     "attestation_reason":"PCR 16 mismatch","attested_at":0,
     "tvds":["blue","red"]}]})");
}

inline nlohmann::json RmSnapshot() {
  return nlohmann::json::parse(R"([
    {"host":"node1","up":true,"properties":{"rack":"r1"},
     "last_seen_ms_ago":120,
     "status":{"cpus":4,"load1":0.5,"mem_total_kib":4194304,
               "mem_free_kib":3145728,"free_vcpus":2,"free_mem_kib":2097152},
     "domains":[
       {"name":"tools","uuid":"u0","state":"running","tvd":"",
        "networks":[]},
       {"name":"web1","uuid":"u1","state":"running","tvd":"blue",
        "networks":["blue-data"]}]},
    {"host":"node2","up":true,"properties":{},"last_seen_ms_ago":80,
     "status":{"cpus":2,"load1":1.25,"mem_total_kib":2097152,
               "mem_free_kib":1048576,"free_vcpus":1,"free_mem_kib":1048576},
     "domains":[
       {"name":"db1","uuid":"u2","state":"running","tvd":"red",
        "networks":["red-data"]},
       {"name":"stray","uuid":"u3","state":"paused","tvd":"green",
        "networks":[]}]},
    {"host":"node3","up":false,"properties":{},"last_seen_ms_ago":9000,
     "status":null,"domains":[]}])");
}

class FakeMasterSource : public MasterSource {
 public:
  StatusOr<nlohmann::json> tvds = MasterTvdsReply();
  StatusOr<nlohmann::json> hosts = MasterHostsReply();
  int calls = 0;
  StatusOr<nlohmann::json> QueryTvds() override {
    ++calls;
    return tvds;
  }
  StatusOr<nlohmann::json> QueryHosts() override { return hosts; }
  std::string Describe() const override { return "fake master"; }
};

class FakeRmSource : public RmSource {
 public:
  StatusOr<nlohmann::json> snapshot = RmSnapshot();
  StatusOr<nlohmann::json> Snapshot() override { return snapshot; }
  std::string Describe() const override { return "fake rm-server"; }
};

// The merged sample, stamped 2023-11-14 22:13:20 UTC.
inline Overview SampleOverview() {
  FakeMasterSource master;
  FakeRmSource rm;
  return CollectOverview(master, rm, 1700000000);
}

}  // namespace tvd::overview

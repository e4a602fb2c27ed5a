// Where rm-agent learns about its host: the node's resources (/proc) and its
// domains (libvirt). Both behind small interfaces so unit tests use fakes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tvd/rm/messages.h"
#include "tvd/status.h"

namespace tvd::rm {

// One local domain with what free-capacity accounting needs.
struct LocalDomain {
  DomainInfo info;
  std::uint64_t vcpus = 0;
  std::uint64_t memory_kib = 0;
};

class DomainSource {
 public:
  virtual ~DomainSource() = default;
  // All domains (running and defined). Errors: Unavailable when libvirt
  // cannot be reached (the agent retries on its next report).
  virtual StatusOr<std::vector<LocalDomain>> ListDomains() = 0;
};

// CPU count, load and memory of the host (free capacity is filled in by the
// agent from the domains).
class NodeStatusSource {
 public:
  virtual ~NodeStatusSource() = default;
  virtual StatusOr<NodeStatus> ReadStatus() = 0;
};

// Reads PROC/loadavg and PROC/meminfo (MemTotal, MemAvailable) and the
// online CPU count. Errors: IoError / InvalidArgument naming the file.
class ProcNodeStatusSource : public NodeStatusSource {
 public:
  explicit ProcNodeStatusSource(std::string proc_root = "/proc")
      : proc_root_(std::move(proc_root)) {}
  StatusOr<NodeStatus> ReadStatus() override;

 private:
  std::string proc_root_;
};

// Domains from libvirt at `uri` (opened read-only, reopened after a
// failure). The TVD and networks come from the domain's <metadata> element
// in namespace urn:tvd:vm:1 (owner attribute, vnet network attributes);
// domains without it report tvd "" and no networks.
std::unique_ptr<DomainSource> MakeLibvirtDomainSource(std::string uri);

// Reads the TVD owner and networks from the metadata element text libvirt
// returns for urn:tvd:vm:1. Errors: InvalidArgument when it is not that
// element or lacks the owner.
Status ParseTvdMetadata(std::string_view xml, DomainInfo& domain);

}  // namespace tvd::rm

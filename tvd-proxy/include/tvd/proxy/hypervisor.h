// The hypervisor as the proxy sees it: define/start/destroy domains and
// hold ephemeral secrets, create encrypted disk images. LibvirtHypervisor
// (libvirt_hypervisor.h) is the real one; unit tests use a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::proxy {

struct DomainSummary {
  std::string name;
  std::string uuid;
  bool active = false;
  std::string owner_tvd;  // from the TVD metadata; empty if none
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // Defines the domain from `domain_xml` and starts it. On failure nothing
  // of it stays defined. AlreadyExists when a domain of that name exists.
  virtual Status DefineAndStart(const std::string& domain_xml) = 0;
  // Destroys (if running) and undefines domain `name`. NotFound when absent.
  virtual Status DestroyAndUndefine(const std::string& name) = 0;
  // The domain's current XML. NotFound when absent.
  virtual StatusOr<std::string> DomainXml(const std::string& name) = 0;
  // Every domain (active or not), with its TVD owner.
  virtual StatusOr<std::vector<DomainSummary>> ListDomains() = 0;
  // Defines an ephemeral, private secret with usage volume `usage` and sets
  // its value; returns its UUID. The value is never written to disk by
  // libvirt (ephemeral) nor readable back through the API (private).
  virtual StatusOr<std::string> DefineSecret(const std::string& usage,
                                             const SecureBytes& value) = 0;
  // NotFound when absent.
  virtual Status UndefineSecret(const std::string& uuid) = 0;
  // Creates a LUKS-encrypted qcow2 image of `size_mib` MiB at `path`
  // (mode 0600) whose LUKS passphrase is `passphrase`. AlreadyExists when
  // `path` exists (an existing disk is never overwritten); on failure no
  // file is left.
  virtual Status CreateEncryptedDisk(const std::string& path,
                                     std::uint64_t size_mib,
                                     const SecureBytes& passphrase) = 0;
  // UUIDs of secrets whose usage starts with `usage_prefix`.
  virtual StatusOr<std::vector<std::string>> ListSecrets(
      const std::string& usage_prefix) = 0;
};

}  // namespace tvd::proxy

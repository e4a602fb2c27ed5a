// The hypervisor as the proxy sees it: define/start/destroy domains and
// hold ephemeral secrets, create encrypted disk images. LibvirtHypervisor
// (libvirt_hypervisor.h) is the real one; unit tests use FakeHypervisor
// (tests/support). The contract below is what both are held to by one test
// suite (tests/fixture/hypervisor/include/tvd/testing/hypervisor_contract.h)
// run against the fake and against libvirt's test driver; messages in
// quotes are exact, "..." is libvirt's own wording.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tvd/attest/guest_quote.h"
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
  // Defines the domain from `domain_xml` and starts it. Its UUID is the
  // XML's <uuid> when it has one (listed in lower case), else a new one
  // (never that of an earlier domain of the same name). On failure nothing
  // of it stays defined and no other domain is touched.
  //   AlreadyExists "domain 'NAME' already exists" when a domain of that
  //     name exists (running or not, defined or transient);
  //   AlreadyExists "domain with UUID 'UUID' already exists as 'OTHER'"
  //     when the XML's <uuid> is another domain's;
  //   (AlreadyExists "libvirt: ..." when another client defines the name
  //     between the check and the define;)
  //   FailedPrecondition "libvirt refused the domain: ..." for XML the
  //     hypervisor does not accept (not well-formed, no <domain> root, no
  //     type or name, a malformed <uuid>);
  //   FailedPrecondition "libvirt could not start the domain: ...".
  virtual Status DefineAndStart(const std::string& domain_xml) = 0;
  // Destroys (if running) and undefines domain `name`, whether it runs,
  // is stopped or is transient. NotFound "no domain 'NAME'" when absent.
  virtual Status DestroyAndUndefine(const std::string& name) = 0;
  // The domain's current (inactive) XML: a <domain> naming it, with its
  // <uuid> and the <metadata> it was defined with. NotFound "no domain
  // 'NAME'" when absent.
  virtual StatusOr<std::string> DomainXml(const std::string& name) = 0;
  // Every domain (running, stopped or transient), once, in no particular
  // order, with its TVD owner: the `owner` attribute of its metadata
  // element in the TVD namespace (policy::kVmNamespace), found by that
  // namespace, not by a prefix; empty when there is none.
  virtual StatusOr<std::vector<DomainSummary>> ListDomains() = 0;
  // Defines an ephemeral, private secret with usage volume `usage` and sets
  // its value; returns its UUID. The value is never written to disk by
  // libvirt (ephemeral) nor readable back through the API (private).
  // AlreadyExists "a secret for 'USAGE' already exists" when one has that
  // usage (nothing changes); FailedPrecondition "libvirt refused secret
  // 'USAGE': ..." / "setting secret 'USAGE': ..." (then nothing stays).
  virtual StatusOr<std::string> DefineSecret(const std::string& usage,
                                             const SecureBytes& value) = 0;
  // As DefineSecret, for a vTPM: usage type vtpm, `usage` its name (what
  // libvirt's <tpm><backend type='emulator'><encryption secret=UUID/>
  // takes). Usages are unique across both kinds; ListSecrets and
  // UndefineSecret see both.
  virtual StatusOr<std::string> DefineVtpmSecret(const std::string& usage,
                                                 const SecureBytes& value) = 0;
  // NotFound "no secret UUID" when absent (or not a UUID).
  virtual Status UndefineSecret(const std::string& uuid) = 0;
  // Creates a LUKS-encrypted qcow2 image of `size_mib` MiB at `path`
  // (mode 0600) whose LUKS passphrase is `passphrase`. On failure no file
  // is left (and an existing one is never touched):
  //   InvalidArgument "encrypted disk path must be absolute, got 'PATH'",
  //   InvalidArgument "empty disk passphrase",
  //   AlreadyExists "encrypted disk PATH already exists",
  //   IoError "creating encrypted disk PATH: <strerror>" (e.g. no such
  //     directory);
  //   FailedPrecondition "qemu-img could not create encrypted disk PATH:
  //     ..." (the real one).
  virtual Status CreateEncryptedDisk(const std::string& path,
                                     std::uint64_t size_mib,
                                     const SecureBytes& passphrase) = 0;
  // UUIDs of secrets whose usage starts with `usage_prefix` (a plain
  // string prefix: "tvd/blue/web" also matches "tvd/blue/webserver/...").
  virtual StatusOr<std::vector<std::string>> ListSecrets(
      const std::string& usage_prefix) = 0;
  // Asks the guest attestation agent of running domain `name` for a quote
  // through the domain's attestation channel (the socket libvirt made for
  // it, AttestChannelSocket of its live XML; vm_admission.h), one
  // exchange, within `timeout`. What the guest answers is hostile and is
  // parsed (attest::ParseGuestQuoteAnswer).
  //   NotFound "no domain 'NAME'";
  //   FailedPrecondition "domain 'NAME' is not running";
  //   NotFound "domain 'NAME' has no attestation channel";
  //   attest::AskGuestForQuote's errors (Unavailable when the agent does
  //     not answer in time, the guest's own "error" line as
  //     FailedPrecondition "guest agent: ...").
  virtual StatusOr<attest::GuestQuoteAnswer> AskGuestForQuote(
      const std::string& name, const attest::GuestQuoteRequest& request,
      std::chrono::milliseconds timeout) = 0;
};

}  // namespace tvd::proxy

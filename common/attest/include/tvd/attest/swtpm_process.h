// A private software TPM 2.0 process:
//   swtpm socket --tpm2 --server type=tcp,port=N,bindaddr=127.0.0.1
//         --ctrl type=tcp,port=N+1,bindaddr=127.0.0.1
//         --flags not-need-init,startup-clear --tpmstate dir=DIR
//         [--key pwdfd=0,mode=aes-256-cbc]
// on two free consecutive loopback ports, reached through ESYS with the
// TCTI "swtpm:host=127.0.0.1,port=N". The tests' software TPMs and the
// proxy's vTPM set-up (it reads a new vTPM's EK before libvirt starts the
// VM) both start it here.
//
// With a passphrase the state is encrypted exactly as libvirt has swtpm do
// for a domain's <tpm><backend><encryption secret=.../>: the secret's value
// as a passphrase on a descriptor (`--key pwdfd=...,mode=aes-256-cbc`), fed
// here through a pipe on the child's stdin, so it is never in argv or a
// file. A state made with one passphrase does not open with another.
//
// swtpm serves one TCTI connection at a time. Loopback TCP is reachable by
// every local process for the moment the port is open; callers that set up
// a state for someone else (the proxy) connect at once and stop it after.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "tvd/process.h"
#include "tvd/secure_bytes.h"
#include "tvd/status.h"

namespace tvd::attest {

struct SwtpmProcessOptions {
  std::string state_dir;  // an existing directory
  // The state's passphrase; null: an unencrypted state.
  const SecureBytes* passphrase = nullptr;
  // Files for swtpm's stdout / stderr (created, appended); empty: inherited.
  std::string stdout_path;
  std::string stderr_path;
};

class SwtpmProcess {
 public:
  // Unavailable "swtpm did not come up on port N: <stderr or exit status>"
  // after a few tries on other ports (or "no free port pair for swtpm");
  // the spawn's own error when swtpm cannot be run. A wrong passphrase for
  // an existing state shows as swtpm exiting at start.
  static StatusOr<SwtpmProcess> Start(const SwtpmProcessOptions& options);

  SwtpmProcess() = default;
  SwtpmProcess(SwtpmProcess&&) = default;
  SwtpmProcess& operator=(SwtpmProcess&&) = default;

  // "swtpm:host=127.0.0.1,port=N".
  std::string tcti() const;
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }

  // SIGTERM (swtpm writes its state and exits), SIGKILL after `grace`.
  // The destructor does the same.
  Status Stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  std::uint16_t port_ = 0;
  ChildProcess process_;
};

}  // namespace tvd::attest

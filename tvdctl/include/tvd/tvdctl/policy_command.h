// `tvdctl policy ...`: validate, show, derive, import-fig15, digest,
// measured-boot.
//
//   validate [--final] FILE...   exit 0 if every file is valid, 1 if any is
//                                not (each error "FILE:LINE: message" on err)
//   show FILE [--json]           human summary, or the canonical content as
//                                indented JSON
//   derive --template T --name NAME [--uuid U] [--kernel PATH]
//          [--initrd PATH] [--disk TARGET=PATH]... [--net VNET=NETWORK]...
//          [--out FILE]          VM configuration from a template
//   import-fig15 FILE [--out F]  convert the figure-15 form
//   check-vm VM_FILE --policy P [--peer P]...
//                                whether the policies allow the VM
//                                (vm_policy_check.h); exit 0 or 1
//   digest FILE                  SHA-256 of the canonical form, lower-case hex
//   measured-boot LOG [--out F]  a <measured-boot> element drafted from a
//                                known-good host's UEFI event log, to review
// Every command takes --help. Exit codes as in dispatcher.h.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tvd::tvdctl {

int RunPolicyCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);

}  // namespace tvd::tvdctl

// `tvdctl vm attest`: a tenant's own check of a VM's vTPM (the deep quote,
// docs/vtpm.md), verified against the VDC CA alone.
//
//   tvdctl vm attest --evidence FILE --tvd TVD --vm VM --ca PEM
//                    [--nonce HEX] [--master-name NAME]
//                    [--max-age SECONDS] [--max-host-age SECONDS] [--json]
//
// Reads the evidence (deep_quote.h's JSON), verifies the whole chain
// (VerifyDeepQuote) for TVD/VM at the current time and prints it: the
// master, the statement's age, the host with its latest attestation (time,
// PCR digest, policy digest) and membership, the vTPM's EK digest and AK,
// the nonce and every quoted PCR. --nonce: the nonce the tenant asked for
// (without it freshness rests on the statement's issue time, and the output
// says so). --max-age (default 300) bounds the statement's age,
// --max-host-age (default 3600) the age of the host's attestation at the
// statement's issue. --json prints the evidence itself (re-encoded, so
// exactly what was parsed) instead of the text; the verdict is the exit
// code and, on failure, stderr.
//
// Exit codes: 0 verified; 1 unreadable or malformed evidence, or a failed
// check (stderr names it: "tvdctl vm attest: vTPM belongs to TVD red, not
// blue"); 2 usage error.
//
// The online form, with the tenant certificate:
//
//   tvdctl vm attest TVD VM --master ADDRESS:PORT[,...] --ca PEM --cert PEM
//                    --key PEM [--pcrs N,N,...] [--master-name NAME]
//                    [--save FILE] [--max-age S] [--max-host-age S] [--json]
//
// draws a 32-byte nonce, asks the master (each of the list in turn while
// one answers Unavailable: a replica that does not serve the VM's host)
// for the VM's evidence over it (protocol/tenant_client.h), and verifies
// it as above with that nonce; --save writes the evidence for a later
// offline check. --pcrs defaults to 0-7. Exit 3 when no master answers.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tvd/attest/deep_quote.h"

namespace tvd::tvdctl {

// The text `tvdctl vm attest` prints for a verified chain, at `now`.
std::string FormatDeepQuoteChain(const attest::VerifiedDeepQuote& v,
                                 bool nonce_checked,
                                 std::chrono::system_clock::time_point now);

int RunVmCommand(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

}  // namespace tvd::tvdctl

// What a daemon checks before it starts anything (DaemonSpec::check,
// run_daemon.h): the files and directories its configuration names, so that
// bad configuration fails the start with one log line that names the file
// and the fix, before a socket is bound or a child started.
//
// Every error is a FailedPrecondition whose message is that one line;
// SETTING is how the operator named the path ("--key", "key in
// /etc/tvd/tvd-master.conf"), USER the effective user described as
// "NAME (uid N)" (or "uid N" without a passwd entry).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "tvd/status.h"

namespace tvd::daemon {

// "tvd (uid 998)", or "uid 4242" when the uid has no passwd entry.
std::string DescribeUid(uid_t uid);

// A secret the daemon reads: a private key (PEM), a CURVE secret key, a key
// encryption key. Symbolic links are followed. Ok when it is a regular file
// owned by the effective user with no access for group or others. Errors:
//   "private key PATH (SETTING) does not exist; fix: create it
//   (docs/install.md) or set SETTING to where it is" "private key PATH
//   (SETTING) cannot be examined: ERRNO; fix: ..."   (EACCES on a directory
//   above it) "private key PATH (SETTING) is not a regular file; fix: set
//   SETTING to the key file" "private key PATH (SETTING) is owned by
//   USER_OF_FILE, not USER that this daemon runs as; fix: chown NAME PATH"
//   "private key PATH (SETTING) has mode 0644, open to group or others; fix:
//   chmod 0600 PATH"
Status CheckPrivateKeyFile(const std::string& path, std::string_view setting);

// A file the daemon reads that is not secret (a certificate, a public key,
// an allow-list, a config file): a regular file the effective user may
// read. Errors:
//   "file PATH (SETTING) does not exist; fix: create it (docs/install.md) or
//   set SETTING to where it is" "file PATH (SETTING) is not a regular file;
//   fix: set SETTING to the file" "file PATH (SETTING) is not readable by USER;
//   fix: chmod 0644 PATH"
Status CheckReadableFile(const std::string& path, std::string_view setting);

// A directory of the daemon's state (/var/lib/tvd/...): owned by the
// effective user, not writable by group or others. Errors:
//   "state directory PATH (SETTING) does not exist; fix: systemd-tmpfiles
//   --create tvd.conf, or mkdir -m 0700 PATH and chown NAME PATH" "state
//   directory PATH (SETTING) is not a directory; fix: set SETTING to a
//   directory" "state directory PATH (SETTING) is owned by USER_OF_DIR, not
//   USER that this daemon runs as; fix: chown -R NAME PATH" "state directory
//   PATH (SETTING) has mode 0777, writable by group or others; fix: chmod 0700
//   PATH"
// where NAME is the effective user's name (or uid).
Status CheckStateDirectory(const std::string& path, std::string_view setting);

// A config file's "unknown key" or "missing key" error (flags.h's forms)
// with the fix appended, LISTED naming where the keys are listed
// ("rm-agent --help", "docs/master.md"):
//   "...: unknown key 'K'; fix: remove the line or correct the key (LISTED
//   lists the keys)"
//   "...: missing key 'K'; fix: add 'K = ...' (LISTED lists the keys)"
// Other errors, and one that already says "; fix:", are returned as they
// are.
Status WithConfigFix(const Status& error, std::string_view listed);

}  // namespace tvd::daemon

#include "tvd/daemon/startup_checks.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace tvd::daemon {
namespace {

std::string UserName(uid_t uid) {
  std::vector<char> buffer(4096);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

std::string Mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Status Fail(std::string message) {
  return FailedPrecondition(std::move(message));
}

// stat() with the errors every check words the same way. `what` is
// "private key PATH (SETTING)".
Status Stat(const std::string& path, const std::string& what,
            std::string_view setting, struct stat& st) {
  if (::stat(path.c_str(), &st) == 0) return Status::Ok();
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) {
    return Fail(what + " does not exist; fix: create it (docs/install.md) " +
                "or set " + std::string(setting) + " to where it is");
  }
  return Fail(what + " cannot be examined: " + std::strerror(err) +
              "; fix: let " + DescribeUid(::geteuid()) +
              " search the directories above it");
}

}  // namespace

std::string DescribeUid(uid_t uid) {
  const std::string name = UserName(uid);
  if (name == std::to_string(uid)) return "uid " + name;
  return name + " (uid " + std::to_string(uid) + ")";
}

Status CheckPrivateKeyFile(const std::string& path, std::string_view setting) {
  const std::string what =
      "private key " + path + " (" + std::string(setting) + ")";
  struct stat st {};
  TVD_RETURN_IF_ERROR(Stat(path, what, setting, st));
  if (!S_ISREG(st.st_mode)) {
    return Fail(what + " is not a regular file; fix: set " +
                std::string(setting) + " to the key file");
  }
  const uid_t self = ::geteuid();
  if (st.st_uid != self) {
    return Fail(what + " is owned by " + DescribeUid(st.st_uid) + ", not " +
                DescribeUid(self) + " that this daemon runs as; fix: chown " +
                UserName(self) + " " + path);
  }
  if ((st.st_mode & 077) != 0) {
    return Fail(what + " has mode " + Mode(st.st_mode) +
                ", open to group or others; fix: chmod 0600 " + path);
  }
  return Status::Ok();
}

Status CheckReadableFile(const std::string& path, std::string_view setting) {
  const std::string what = "file " + path + " (" + std::string(setting) + ")";
  struct stat st {};
  TVD_RETURN_IF_ERROR(Stat(path, what, setting, st));
  if (!S_ISREG(st.st_mode)) {
    return Fail(what + " is not a regular file; fix: set " +
                std::string(setting) + " to the file");
  }
  if (::faccessat(AT_FDCWD, path.c_str(), R_OK, AT_EACCESS) != 0) {
    return Fail(what + " is not readable by " + DescribeUid(::geteuid()) +
                "; fix: chmod 0644 " + path);
  }
  return Status::Ok();
}

Status CheckStateDirectory(const std::string& path, std::string_view setting) {
  const std::string what =
      "state directory " + path + " (" + std::string(setting) + ")";
  const uid_t self = ::geteuid();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Fail(what +
                  " does not exist; fix: systemd-tmpfiles --create tvd.conf, "
                  "or mkdir -m 0700 " +
                  path + " and chown " + UserName(self) + " " + path);
    }
    return Fail(what + " cannot be examined: " + std::strerror(err) +
                "; fix: let " + DescribeUid(self) +
                " search the directories above it");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(what + " is not a directory; fix: set " + std::string(setting) +
                " to a directory");
  }
  if (st.st_uid != self) {
    return Fail(what + " is owned by " + DescribeUid(st.st_uid) + ", not " +
                DescribeUid(self) +
                " that this daemon runs as; fix: chown -R " + UserName(self) +
                " " + path);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Fail(what + " has mode " + Mode(st.st_mode) +
                ", writable by group or others; fix: chmod 0700 " + path);
  }
  return Status::Ok();
}

Status WithConfigFix(const Status& error, std::string_view listed) {
  const std::string& m = error.message();
  if (m.find("; fix: ") != std::string::npos) return error;
  const std::string where = " (" + std::string(listed) + " lists the keys)";
  if (m.find(": unknown key '") != std::string::npos) {
    return {error.code(),
            m + "; fix: remove the line or correct the key" + where};
  }
  const std::size_t missing = m.find(": missing key '");
  if (missing != std::string::npos) {
    const std::size_t start = missing + 15;
    const std::size_t end = m.find('\'', start);
    const std::string key = m.substr(start, end - start);
    return {error.code(), m + "; fix: add '" + key + " = ...'" + where};
  }
  return error;
}

}  // namespace tvd::daemon

// Which VMs a proxy measured and admitted on this host, kept where the
// proxy's restart finds it and a tenant cannot write it.
//
// A restarted proxy re-plugs ports only for VMs in this record, with the
// ports, networks and MACs recorded at admission (never those of the
// domain's current XML, which a tenant may have changed through the relay),
// and only while libvirt's domain of that name still has the recorded UUID.
// A domain of the TVD that is not in the record gets no port.
//
// FileAdmissionStore keeps it in <state_dir>/<tvd>/admitted.json: the
// directory mode 0700 and the file mode 0600, both owned by the proxy's
// owner (root), written atomically (temporary file, fsync, rename, fsync of
// the directory). A file or directory of another owner, or writable by group
// or others, is refused on load and on save.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/status.h"

namespace tvd::proxy {

struct AdmittedPort {
  std::string port;     // the tap: a name of the proxy's (TapName)
  std::string network;  // TVD network it is plugged into
  std::string mac;      // "aa:bb:cc:dd:ee:ff", lower case
  friend bool operator==(const AdmittedPort&, const AdmittedPort&) = default;
};

struct AdmittedVm {
  std::string name;
  std::string uuid;           // libvirt's domain UUID at admission
  std::string config_sha256;  // the canonical config digest measured (hex)
  std::vector<AdmittedPort> ports;
  friend bool operator==(const AdmittedVm&, const AdmittedVm&) = default;
};

// One TVD's admitted VMs on this host, by VM name.
struct AdmissionRecord {
  std::string tvd;
  std::map<std::string, AdmittedVm> vms;
  friend bool operator==(const AdmissionRecord&,
                         const AdmissionRecord&) = default;
};

// Largest record file accepted (a few thousand VMs).
inline constexpr std::size_t kMaxAdmissionRecordBytes = 4 * 1024 * 1024;

// "aa:bb:cc:dd:ee:ff" in lower case, the only MAC form a record holds.
bool IsAdmissionMac(std::string_view s);

// Parses the record's JSON form:
//   {"version":1,"tvd":"blue","vms":[{"name":"web","uuid":"<uuid>",
//    "config_sha256":"<64 hex>","ports":[{"port":"tvd0123456789ab",
//    "network":"blue-data","mac":"52:54:00:00:00:01"}]}]}
// Strict: every key required, no other key, no key twice, the right types;
// names, UUIDs, digests and MACs well formed; no VM and no port twice.
// InvalidArgument "<where>: <JSON path>: <what is wrong>" otherwise.
StatusOr<AdmissionRecord> ParseAdmissionRecord(std::string_view text,
                                               std::string_view where);

// The JSON form ParseAdmissionRecord reads back to an equal record.
std::string SerializeAdmissionRecord(const AdmissionRecord& record);

class AdmissionStore {
 public:
  virtual ~AdmissionStore() = default;
  // The TVD's record; an empty one (vms empty) when none was saved.
  // Errors: InvalidArgument for a corrupt record, PermissionDenied for a
  // file or directory whose owner or mode a tenant could have used, IoError.
  virtual StatusOr<AdmissionRecord> Load() = 0;
  // Replaces the record atomically: after a crash, Load returns either the
  // old or the new record, whole.
  virtual Status Save(const AdmissionRecord& record) = 0;
  // Removes the record (OK when there is none).
  virtual Status Remove() = 0;
};

class FileAdmissionStore : public AdmissionStore {
 public:
  // The record of TVD `tvd` in `<state_dir>/<tvd>/admitted.json`; files
  // and directories must belong to `owner` (root in production).
  FileAdmissionStore(std::string state_dir, std::string tvd, uid_t owner = 0);

  StatusOr<AdmissionRecord> Load() override;
  Status Save(const AdmissionRecord& record) override;
  Status Remove() override;

  const std::string& path() const { return path_; }

 private:
  // InvalidArgument when the TVD name could not be a path component.
  Status CheckTvdName() const;
  // Creates `dir` (mode 0700) when missing; PermissionDenied when it exists
  // with another owner or group/world write access, or is not a directory.
  Status EnsureDir(const std::string& dir) const;
  // PermissionDenied unless `dir` is a directory of the owner that group
  // and others cannot write; NotFound when missing.
  Status CheckDir(const std::string& dir) const;

  std::string state_dir_;
  std::string tvd_;
  std::string dir_;   // <state_dir>/<tvd>
  std::string path_;  // <dir>/admitted.json
  uid_t owner_;
};

}  // namespace tvd::proxy

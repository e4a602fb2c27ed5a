#include "tvd/proxy/admission_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tvd/atomic_file.h"
#include "tvd/policy/values.h"

namespace tvd::proxy {

namespace {

using nlohmann::json;

constexpr int kVersion = 1;
constexpr char kFileName[] = "admitted.json";

std::string Errno(int err) { return std::strerror(err); }

bool IsLowerHex(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

bool IsAdmissionMac(std::string_view s) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

namespace {

// Reads exactly the keys of `spec` from object `j` at `path`.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path, std::string_view where)
      : j_(j), path_(std::move(path)), where_(where) {}

  Status Expect(std::initializer_list<std::string_view> keys) const {
    if (!j_.is_object()) return Error(path_, "must be an object");
    for (const auto& [key, value] : j_.items()) {
      bool known = false;
      for (std::string_view k : keys) known = known || key == k;
      if (!known) return Error(path_ + "." + key, "unknown key");
    }
    for (std::string_view k : keys) {
      if (!j_.contains(std::string(k))) {
        return Error(path_ + "." + std::string(k), "missing");
      }
    }
    return Status::Ok();
  }

  StatusOr<std::string> String(std::string_view key,
                               bool (*valid)(std::string_view),
                               std::string_view what) const {
    const json& v = j_.at(std::string(key));
    std::string p = path_ + "." + std::string(key);
    if (!v.is_string()) return Error(p, "must be a string");
    std::string s = v.get<std::string>();
    if (!valid(s)) return Error(p, "must be " + std::string(what));
    return s;
  }

  StatusOr<const json*> Array(std::string_view key) const {
    const json& v = j_.at(std::string(key));
    if (!v.is_array()) {
      return Error(path_ + "." + std::string(key), "must be an array");
    }
    return &v;
  }

  Status Error(const std::string& path, const std::string& what) const {
    return InvalidArgument(std::string(where_) + ": " + path + ": " + what);
  }

 private:
  const json& j_;
  std::string path_;
  std::string_view where_;
};

}  // namespace

StatusOr<AdmissionRecord> ParseAdmissionRecord(std::string_view text,
                                               std::string_view where) {
  auto error = [&](const std::string& what) {
    return InvalidArgument(std::string(where) + ": " + what);
  };
  if (text.size() > kMaxAdmissionRecordBytes) {
    return error("larger than " + std::to_string(kMaxAdmissionRecordBytes) +
                 " bytes");
  }
  // nlohmann keeps the last of two equal keys; a record with a key twice is
  // refused instead, so no reader can see another value than this one.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() &&
            !keys.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), callback,
                       /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("not valid JSON");
  if (!duplicate.empty()) return error("key '" + duplicate + "' appears twice");

  ObjectReader top(j, "$", where);
  TVD_RETURN_IF_ERROR(top.Expect({"version", "tvd", "vms"}));
  if (!j["version"].is_number_integer() || j["version"] != kVersion) {
    return top.Error("$.version", "must be " + std::to_string(kVersion));
  }
  AdmissionRecord record;
  TVD_ASSIGN_OR_RETURN(record.tvd,
                       top.String("tvd", policy::IsTvdName, "a TVD name"));
  TVD_ASSIGN_OR_RETURN(const json* vms, top.Array("vms"));
  std::set<std::string> ports_seen;
  for (std::size_t i = 0; i < vms->size(); ++i) {
    const std::string path = "$.vms[" + std::to_string(i) + "]";
    ObjectReader r((*vms)[i], path, where);
    TVD_RETURN_IF_ERROR(r.Expect({"name", "uuid", "config_sha256", "ports"}));
    AdmittedVm vm;
    TVD_ASSIGN_OR_RETURN(vm.name,
                         r.String("name", policy::IsVmName, "a VM name"));
    TVD_ASSIGN_OR_RETURN(vm.uuid, r.String("uuid", policy::IsUuid, "a UUID"));
    TVD_ASSIGN_OR_RETURN(vm.config_sha256, r.String(
                                               "config_sha256",
                                               [](std::string_view s) {
                                                 return IsLowerHex(s, 64);
                                               },
                                               "64 lower-case hex digits"));
    TVD_ASSIGN_OR_RETURN(const json* ports, r.Array("ports"));
    for (std::size_t k = 0; k < ports->size(); ++k) {
      const std::string ppath = path + ".ports[" + std::to_string(k) + "]";
      ObjectReader pr((*ports)[k], ppath, where);
      TVD_RETURN_IF_ERROR(pr.Expect({"port", "network", "mac"}));
      AdmittedPort port;
      TVD_ASSIGN_OR_RETURN(port.port, pr.String("port", policy::IsInterfaceName,
                                                "an interface name"));
      TVD_ASSIGN_OR_RETURN(port.network, pr.String("network", policy::IsTvdName,
                                                   "a network name"));
      TVD_ASSIGN_OR_RETURN(port.mac, pr.String("mac", IsAdmissionMac,
                                               "a lower-case MAC address"));
      if (!ports_seen.insert(port.port).second) {
        return pr.Error(ppath + ".port",
                        "port '" + port.port + "' is recorded twice");
      }
      vm.ports.push_back(std::move(port));
    }
    std::string name = vm.name;
    if (!record.vms.emplace(name, std::move(vm)).second) {
      return r.Error(path + ".name", "VM '" + name + "' is recorded twice");
    }
  }
  return record;
}

std::string SerializeAdmissionRecord(const AdmissionRecord& record) {
  json vms = json::array();
  for (const auto& [name, vm] : record.vms) {
    json ports = json::array();
    for (const AdmittedPort& p : vm.ports) {
      ports.push_back(
          {{"port", p.port}, {"network", p.network}, {"mac", p.mac}});
    }
    vms.push_back({{"name", vm.name},
                   {"uuid", vm.uuid},
                   {"config_sha256", vm.config_sha256},
                   {"ports", ports}});
  }
  json j = {{"version", kVersion}, {"tvd", record.tvd}, {"vms", vms}};
  return j.dump(2) + "\n";
}

FileAdmissionStore::FileAdmissionStore(std::string state_dir, std::string tvd,
                                       uid_t owner)
    : state_dir_(std::move(state_dir)),
      tvd_(std::move(tvd)),
      dir_(state_dir_ + "/" + tvd_),
      path_(dir_ + "/" + kFileName),
      owner_(owner) {}

Status FileAdmissionStore::CheckTvdName() const {
  // The name becomes a path component.
  if (!policy::IsTvdName(tvd_)) {
    return InvalidArgument("TVD name '" + tvd_ +
                           "' cannot name an admission state directory");
  }
  return Status::Ok();
}

Status FileAdmissionStore::CheckDir(const std::string& dir) const {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return NotFound(dir + " does not exist");
    return IoError("cannot stat " + dir + ": " + Errno(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return PermissionDenied("admission state " + dir +
                            " is not a directory (refusing to use it)");
  }
  if (st.st_uid != owner_) {
    return PermissionDenied("admission state directory " + dir +
                            " is owned by uid " + std::to_string(st.st_uid) +
                            ", not " + std::to_string(owner_) +
                            " (refusing to use it)");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return PermissionDenied("admission state directory " + dir +
                            " is writable by group or others (refusing to "
                            "use it; make it mode 0700)");
  }
  return Status::Ok();
}

Status FileAdmissionStore::EnsureDir(const std::string& dir) const {
  Status s = CheckDir(dir);
  if (s.code() != ErrorCode::kNotFound) return s;
  // Parents (/var/lib/tvd) as any system directory; the state itself 0700.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(),
                                      ec);
  if (ec) {
    return IoError("cannot create the parents of " + dir + ": " + ec.message());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError("cannot create " + dir + ": " + Errno(errno));
  }
  return CheckDir(dir);
}

StatusOr<AdmissionRecord> FileAdmissionStore::Load() {
  TVD_RETURN_IF_ERROR(CheckTvdName());
  AdmissionRecord empty;
  empty.tvd = tvd_;
  for (const std::string& dir : {state_dir_, dir_}) {
    Status s = CheckDir(dir);
    if (s.code() == ErrorCode::kNotFound) return empty;
    TVD_RETURN_IF_ERROR(s);
  }
  int fd = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return empty;
    if (err == ELOOP) {
      return PermissionDenied("admission record " + path_ +
                              " is a symbolic link (refusing to read it)");
    }
    return IoError("cannot open " + path_ + ": " + Errno(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot stat " + path_ + ": " + Errno(err));
  }
  auto refuse = [&](const std::string& why) {
    ::close(fd);
    return PermissionDenied("admission record " + path_ + " " + why +
                            " (refusing to read it)");
  };
  if (!S_ISREG(st.st_mode)) return refuse("is not a regular file");
  if (st.st_uid != owner_) {
    return refuse("is owned by uid " + std::to_string(st.st_uid) + ", not " +
                  std::to_string(owner_));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return refuse("is writable by group or others");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxAdmissionRecordBytes) {
    ::close(fd);
    return InvalidArgument(path_ + ": larger than " +
                           std::to_string(kMaxAdmissionRecordBytes) + " bytes");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot read " + path_ + ": " + Errno(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxAdmissionRecordBytes) {
      ::close(fd);
      return InvalidArgument(path_ + ": larger than " +
                             std::to_string(kMaxAdmissionRecordBytes) +
                             " bytes");
    }
  }
  ::close(fd);
  TVD_ASSIGN_OR_RETURN(AdmissionRecord record,
                       ParseAdmissionRecord(text, path_));
  if (record.tvd != tvd_) {
    return InvalidArgument(path_ + ": $.tvd: the record of TVD '" + record.tvd +
                           "' where TVD '" + tvd_ + "' was expected");
  }
  return record;
}

Status FileAdmissionStore::Save(const AdmissionRecord& record) {
  if (record.tvd != tvd_) {
    return Internal("saving the admission record of TVD '" + record.tvd +
                    "' as TVD '" + tvd_ + "'");
  }
  TVD_RETURN_IF_ERROR(CheckTvdName());
  TVD_RETURN_IF_ERROR(EnsureDir(state_dir_));
  TVD_RETURN_IF_ERROR(EnsureDir(dir_));
  const std::string text = SerializeAdmissionRecord(record);
  // Root's only (0600), and the new name must survive a crash like the
  // content: a restarted proxy re-plugs from this record alone.
  return WriteFileAtomically(path_, text,
                             {.mode = 0600, .sync_directory = true});
}

Status FileAdmissionStore::Remove() {
  TVD_RETURN_IF_ERROR(CheckTvdName());
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove " + path_ + ": " + Errno(errno));
  }
  // The TVD's directory goes too when nothing else is in it.
  if (::rmdir(dir_.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
      errno != EEXIST) {
    return IoError("cannot remove " + dir_ + ": " + Errno(errno));
  }
  return Status::Ok();
}

}  // namespace tvd::proxy

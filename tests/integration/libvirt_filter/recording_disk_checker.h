// The relay's integration tests' DiskImageChecker: the daemon's own
// FileDiskImageChecker (every image really read), with every call recorded
// and, when told to, a refusal instead. Thread-safe (the relay calls it from
// every connection's thread).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tvd/libvirt_filter/disk_image_checker.h"
#include "tvd/libvirt_filter/file_disk_image_checker.h"

namespace tvd::libvirt_filter::testing {

class RecordingDiskImageChecker : public DiskImageChecker {
 public:
  struct Call {
    std::string path;
    std::string format;
    std::string storage_path;
    friend bool operator==(const Call&, const Call&) = default;
  };

  Status Check(const std::string& path, std::string_view format,
               const std::string& storage_path) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(Call{path, std::string(format), storage_path});
      if (!refusal_.empty()) return PermissionDenied(path + ": " + refusal_);
    }
    return files_.Check(path, format, storage_path);
  }
  // Non-empty: every later call is refused with "<path>: <why>".
  void RefuseWith(std::string why) {
    std::lock_guard<std::mutex> lock(mu_);
    refusal_ = std::move(why);
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  FileDiskImageChecker files_;  // stateless, safe from every thread
  mutable std::mutex mu_;
  std::vector<Call> calls_;  // GUARDED_BY(mu_)
  std::string refusal_;      // GUARDED_BY(mu_)
};

}  // namespace tvd::libvirt_filter::testing

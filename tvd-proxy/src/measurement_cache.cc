#include "tvd/proxy/measurement_cache.h"

#include <errno.h>
#include <sys/stat.h>

namespace tvd::proxy {

namespace {

std::int64_t Nanos(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

StatusOr<Sha256Digest> MeasurementCache::Measure(const std::string& path) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct stat before {};
    if (::stat(path.c_str(), &before) != 0) {
      return ErrnoError("measure " + path, errno);
    }
    if (!S_ISREG(before.st_mode)) {
      return InvalidArgument("measure " + path + ": not a regular file");
    }
    const Key key{before.st_dev, before.st_ino, before.st_size,
                  Nanos(before.st_mtim), Nanos(before.st_ctim)};
    if (auto it = entries_.find(key); it != entries_.end()) {
      ++hits_;
      return it->second;
    }
    TVD_ASSIGN_OR_RETURN(Sha256Digest digest, Sha256File(path));
    struct stat after {};
    if (::stat(path.c_str(), &after) != 0) {
      return ErrnoError("measure " + path, errno);
    }
    const Key key_after{after.st_dev, after.st_ino, after.st_size,
                        Nanos(after.st_mtim), Nanos(after.st_ctim)};
    if (key_after != key) continue;  // changed while hashing: hash again
    ++misses_;
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.emplace(key, digest);
    return digest;
  }
  return Unavailable("measure " + path +
                     ": the file kept changing while it was hashed");
}

}  // namespace tvd::proxy

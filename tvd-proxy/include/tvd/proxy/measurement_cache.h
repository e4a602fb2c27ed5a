// Streaming SHA-256 of files with a cache keyed on the file's identity and
// change markers (device, inode, size, mtime and ctime, nanoseconds), so an
// unchanged multi-gigabyte disk image is hashed once. Any change the kernel
// records (a write, truncate, rename over, chmod/touch via ctime) makes a
// new key, so a stale digest is never returned for changed content. A file
// that changes while it is hashed is hashed again (up to 3 times), then
// reported as Unavailable. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "tvd/sha256.h"
#include "tvd/status.h"

namespace tvd::proxy {

class MeasurementCache {
 public:
  explicit MeasurementCache(std::size_t max_entries = 1024)
      : max_entries_(max_entries) {}

  // Digest of the regular file at `path`. IoError naming the path when it
  // cannot be read; InvalidArgument when it is not a regular file.
  StatusOr<Sha256Digest> Measure(const std::string& path);

  std::size_t hits() const { return hits_; }
  std::size_t misses() const { return misses_; }
  std::size_t size() const { return entries_.size(); }

 private:
  // dev, ino, size, mtime ns, ctime ns
  using Key = std::tuple<std::uint64_t, std::uint64_t, std::int64_t,
                         std::int64_t, std::int64_t>;
  std::map<Key, Sha256Digest> entries_;
  std::size_t max_entries_;
  std::size_t hits_ = 0;
  std::size_t misses_ = 0;
};

}  // namespace tvd::proxy

// A temporary directory for one test, removed with everything in it.
#pragma once

#include <string>
#include <string_view>

namespace tvd::testing {

class TempDir {
 public:
  // Creates /tmp/tvd-PREFIX-PID-XXXXXX (mode 0700). When that fails, path()
  // is empty and the current test fails, naming the reason (ADD_FAILURE).
  explicit TempDir(std::string_view prefix = "test");
  // Removes the directory and everything below it; errors are ignored (a
  // test must not fail in its clean-up because a daemon left a socket).
  ~TempDir();

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(std::string_view name) const;

 private:
  std::string path_;
};

}  // namespace tvd::testing

#include "tvd/testing/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

namespace tvd::testing {

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Status WriteFileWithMode(const std::string& path, std::string_view text,
                         mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) return IoError("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return ErrnoError("chmod " + path, errno);
  }
  return Status::Ok();
}

void WriteTestFile(const std::string& path, std::string_view text,
                   mode_t mode) {
  if (Status s = WriteFileWithMode(path, text, mode); !s.ok()) {
    ADD_FAILURE() << s.ToString();
  }
}

bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

}  // namespace tvd::testing

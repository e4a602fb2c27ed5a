#include "tvd/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace tvd::log {
namespace {

Level LevelFromEnvironment() {
  const char* env = std::getenv("TVD_LOG_LEVEL");
  if (env == nullptr) return Level::kInfo;
  std::string_view v(env);
  if (v == "debug") return Level::kDebug;
  if (v == "warning") return Level::kWarning;
  if (v == "error") return Level::kError;
  return Level::kInfo;
}

std::atomic<Level>& CurrentLevel() {
  static std::atomic<Level> level{LevelFromEnvironment()};
  return level;
}

std::mutex& OutputMutex() {
  static std::mutex m;
  return m;
}

std::string& Component() {
  static std::string name = "tvd";
  return name;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetLevel(Level level) { CurrentLevel().store(level); }
Level GetLevel() { return CurrentLevel().load(); }

void SetComponent(std::string_view name) {
  std::lock_guard<std::mutex> lock(OutputMutex());
  Component() = std::string(name);
}

void Write(Level level, std::string_view message) {
  std::lock_guard<std::mutex> lock(OutputMutex());
  std::fprintf(stderr, "%s %s: %.*s\n", LevelName(level), Component().c_str(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace tvd::log

// Minimal line logger to stderr: one line per event, pid-prefixed, never containing secrets.
#pragma once

#include <sstream>
#include <string>

namespace orderpay::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void Write(Level level, const std::string& line);

template <typename... Args>
std::string Concat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

template <typename... Args>
void Info(const Args&... args) {
    Write(Level::kInfo, Concat(args...));
}
template <typename... Args>
void Warn(const Args&... args) {
    Write(Level::kWarn, Concat(args...));
}
template <typename... Args>
void Error(const Args&... args) {
    Write(Level::kError, Concat(args...));
}

}  // namespace orderpay::log

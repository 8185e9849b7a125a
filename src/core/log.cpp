// Writes one log line to stderr with time, pid and level, in a single write() so lines from
// forked workers never interleave.
#include "orderpay/core/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace orderpay::log {

void Write(Level level, const std::string& line) {
    static const char* kNames[] = {"debug", "info", "warn", "error"};
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm t{};
    gmtime_r(&tv.tv_sec, &t);
    char head[96];
    int n =
        std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%d] %s: ", t.tm_year + 1900,
                      t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, tv.tv_usec / 1000,
                      static_cast<int>(getpid()), kNames[static_cast<int>(level)]);
    std::string out(head, n > 0 ? n : 0);
    out += line;
    out += '\n';
    ssize_t ignored = ::write(2, out.data(), out.size());
    (void)ignored;
}

}  // namespace orderpay::log

// Minimal line logger to stderr: one line per event, pid-prefixed, never containing secrets.
// `log_format = json` makes every line one JSON object carrying the request's context (nginx's
// request id, route, order/slip id, provider) and adds one line per finished request.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace orderpay::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void Write(Level level, const std::string& line);

/// "text" (the default) or "json"; false for anything else (the format is then unchanged).
bool SetFormat(std::string_view name);
Format CurrentFormat();

/// The request this process is serving (a worker serves one at a time): every line logged until
/// EndRequest carries it. `request_id` is nginx's $request_id (REQUEST_ID param), kept only when
/// it is 1-64 characters of [A-Za-z0-9._-]; otherwise left out.
void BeginRequest(std::string_view request_id, std::string_view route);
void SetOrder(std::string_view order_id);
void SetSlip(std::string_view slip_id);
void SetProvider(std::string_view provider);
/// The request's id as kept ("" when none or refused), e.g. to store with a notification.
const std::string& RequestId();
/// Ends the request: in json format logs its status and duration first (one line per request).
void EndRequest(int status, double seconds);

/// JSON string contents for `s`: quotes, backslashes and control characters escaped, bytes that
/// are not UTF-8 replaced by U+FFFD, so every line parses whatever a message holds.
std::string JsonEscape(std::string_view s);
/// Control bytes, DEL, backslash, bytes that are not UTF-8, and the UTF-8 of C1 controls and
/// bidirectional formatting characters as \xNN: text from outside printed on one line of a log
/// or a tab-separated listing, with nothing a terminal acts on or reorders.
std::string TextEscape(std::string_view s);

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

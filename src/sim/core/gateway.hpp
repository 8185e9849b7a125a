// What both providers' gateways (and the control API) share: a request's arguments, the formats
// of the ids and URLs they check, and the reply shell.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::sim {

/// The form body (POST) followed by the query parameters the body does not have: SDKs put
/// Alipay's common parameters in either place (the Java SDK puts all but biz_content in the
/// URL), and /sim callers use both. nullopt when either is malformed.
std::optional<http::FormPairs> RequestArguments(const http::Request& req);

/// The arguments of a POST to the control API (/sim/...); nullopt with `err` set to the reply
/// when the method is not POST (405) or the arguments are malformed (400).
std::optional<http::FormPairs> ControlForm(const http::Request& req, http::Response& err);

/// The "timeout" knobs' wait before answering: past orderpay's default http.timeout_ms (10 s),
/// so the caller gives up on a request whose work is done, and must find it by a query.
void SleepPastCallerTimeout();

/// An id of 1 to `max_len` characters, each an ASCII letter or digit or one of `extra`.
bool ValidId(std::string_view text, std::size_t max_len, std::string_view extra);

/// An http:// or https:// URL of at most 256 bytes without spaces or a query string.
bool ValidNotifyUrl(std::string_view text);

/// A reply of `status` with `body` as `content_type`.
http::Response TextReply(int status, std::string content_type, std::string body);

}  // namespace orderpay::sim

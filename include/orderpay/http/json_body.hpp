// A request body that must be one JSON object: the checks every JSON endpoint makes first.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::http {

/// Parses `req`'s body into `doc` with ParseJsonInput: nullopt when the Content-Type is JSON and
/// the body is valid JSON text whose top level is an object, else the error reply to send
/// (e.www.api.unsupported_media_type, e.www.api.invalid.encoding or e.www.api.invalid.json).
std::optional<Response> ParseJsonObjectBody(const Request& req, rapidjson::Document& doc);

/// nullopt when every member of the object `obj` is named in `known`, else 400
/// e.www.order.invalid.field "unknown field NAME": a field the caller means (a misspelt
/// ttl_hours, a tracking number) is refused, never silently dropped. `where` goes before the name
/// ("products[0]." for a member of pay/buy's first line). NAME is at most kMaxEchoedName bytes of
/// it, cut on a character boundary and marked "…" (ParseJsonInput has refused a key that is not
/// UTF-8 or holds NUL): a 10 KB key is not sent back whole.
std::optional<Response> RefuseUnknownFields(const rapidjson::Value& obj,
                                            std::span<const std::string_view> known,
                                            std::string_view where = {});
std::optional<Response> RefuseUnknownFields(const rapidjson::Value& obj,
                                            std::initializer_list<std::string_view> known,
                                            std::string_view where = {});

inline constexpr std::size_t kMaxEchoedName = 64;

}  // namespace orderpay::http

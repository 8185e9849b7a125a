// A request body that must be one JSON object: the checks every JSON endpoint makes first.
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>

#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::http {

/// Parses `req`'s body into `doc` with ParseJsonInput: nullopt when the Content-Type is JSON and
/// the body is valid JSON text whose top level is an object, else the error reply to send
/// (e.www.api.unsupported_media_type, e.www.api.invalid.encoding or e.www.api.invalid.json).
std::optional<Response> ParseJsonObjectBody(const Request& req, rapidjson::Document& doc);

/// nullopt when every member of the object `doc` is named in `known`, else 400
/// e.www.order.invalid.field "unknown field NAME": a field the caller means (a misspelt
/// ttl_hours, a tracking number) is refused, never silently dropped.
std::optional<Response> RefuseUnknownFields(const rapidjson::Document& doc,
                                            std::initializer_list<std::string_view> known);

}  // namespace orderpay::http

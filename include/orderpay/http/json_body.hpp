// A request body that must be one JSON object: the checks every JSON endpoint makes first.
#pragma once

#include <optional>

#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::http {

/// Parses `req`'s body into `doc` with ParseJsonInput: nullopt when the Content-Type is JSON and
/// the body is valid JSON text whose top level is an object, else the error reply to send
/// (e.www.api.unsupported_media_type, e.www.api.invalid.encoding or e.www.api.invalid.json).
std::optional<Response> ParseJsonObjectBody(const Request& req, rapidjson::Document& doc);

}  // namespace orderpay::http

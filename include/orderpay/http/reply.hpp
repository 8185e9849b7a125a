// Builders for the seed's JSON envelope: {"ok":true,"data":...} / {"ok":false,"errCode",...}.
#pragma once

#include <string>
#include <string_view>

#include "orderpay/http/errors.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::http {

/// 200 {"ok":true,"data":<data_json>}; data_json must already be valid JSON.
Response Ok(std::string_view data_json);

/// {"ok":false,"errCode":..,"msg":..[,"data":<data_json>]} with the table's status. `msg`
/// overrides the table's message when non-empty (never put internal details in it).
Response Fail(Err e, std::string_view msg = {}, std::string_view data_json = {});

/// A JSON string literal (quotes included) with proper escaping.
std::string JsonString(std::string_view s);

}  // namespace orderpay::http

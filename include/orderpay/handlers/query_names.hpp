// The query names an operator endpoint reads: any other is refused, not ignored.
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>

#include "orderpay/http/reply.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

/// nullopt when every name in the request's query is one of `known` or `_` (the cache-buster
/// jQuery's `cache: false` and similar clients append), else 400 e.www.api.invalid.query
/// "unknown query name NAME" (NAME at most http::kMaxEchoedName bytes, cut on a character
/// boundary). A back office that misspells a filter (`refund-needed=1`, `State=FA`) must hear of
/// it: read as no filter, the list hands it orders it did not ask for, and it may act on them.
std::optional<http::Response> RefuseUnknownArgs(const http::Request& req,
                                                std::initializer_list<std::string_view> known);

}  // namespace orderpay::handlers

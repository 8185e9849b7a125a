// The `limit` of a paged list (admin/orders, pay/products): one rule and one message for both.
#pragma once

#include <variant>

#include "orderpay/http/reply.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

/// The request's `limit`: `dflt` when it has none, else a whole number from 1 to `max` in plain
/// digits; anything else is the 400 to answer, naming the range.
std::variant<int, http::Response> PageLimit(const http::Request& req, int dflt, int max);

}  // namespace orderpay::handlers

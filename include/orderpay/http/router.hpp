// The route table for /api/{site}/pay/{action}: exact action lookup, 404 and 405 answered here.
#pragma once

#include <string>
#include <string_view>

#include "orderpay/http/request.hpp"

namespace orderpay::http {

enum class Method : unsigned { kGet = 1, kPost = 2 };
inline constexpr unsigned operator|(Method a, Method b) {
    return unsigned(a) | unsigned(b);
}

struct RouteMatch {
    std::string site;    // {site}
    std::string action;  // {action}
};

/// Splits "/api/{site}/pay/{action}" (site: [A-Za-z0-9_.-]{1,64}); false for any other shape.
bool MatchApiPath(std::string_view path, RouteMatch& out);

/// Method bit for "GET"/"HEAD" (kGet) or "POST" (kPost); 0 for anything else.
unsigned MethodBit(std::string_view method);

}  // namespace orderpay::http

// The route table for /api/{site}/pay/{action} (buyers, providers) and /api/{site}/admin/{action}
// (operators): exact action lookup, 404 and 405 answered here.
#pragma once

#include <string>
#include <string_view>

#include "orderpay/http/request.hpp"

namespace orderpay::http {

// HEAD is a bit of its own: HTTP calls it safe, so link checkers, previewers and proxies send it
// freely, and a route whose GET changes something (pay/pay switches the slip) must not run for
// it (review s30-attack L1). Routes whose GET only reads take kRead.
enum class Method : unsigned { kGet = 1, kPost = 2, kHead = 4 };
inline constexpr unsigned operator|(Method a, Method b) {
    return unsigned(a) | unsigned(b);
}
inline constexpr unsigned kRead = Method::kGet | Method::kHead;

struct RouteMatch {
    std::string site;    // {site}
    std::string area;    // "pay" or "admin"
    std::string action;  // {action}
};

/// Splits "/api/{site}/pay/{action}" and "/api/{site}/admin/{action}"; false for any other shape. The site is
/// any non-empty segment: whether it can name a site is ValidSiteId's question (a 404 of its own).
bool MatchApiPath(std::string_view path, RouteMatch& out);

/// True when `site` matches the sites table's CHECK, ^[A-Za-z0-9_.-]{1,64}$ (but not "." or
/// ".."): anything else names no site, and is answered so without asking the database.
bool ValidSiteId(std::string_view site);

/// Method bit for "GET" (kGet), "HEAD" (kHead) or "POST" (kPost); 0 for anything else.
unsigned MethodBit(std::string_view method);

/// 405 e.www.api.method with the Allow header listing `methods` (Method bits).
Response MethodNotAllowed(unsigned methods);

}  // namespace orderpay::http

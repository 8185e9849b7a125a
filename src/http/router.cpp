// Splits the API path into site and action; the action table itself lives in handlers/dispatch.cpp.
#include "orderpay/http/router.hpp"

#include <utility>

#include "orderpay/http/reply.hpp"

namespace orderpay::http {

namespace {

bool SiteChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

}  // namespace

bool MatchApiPath(std::string_view path, RouteMatch& out) {
    constexpr std::string_view kPrefix = "/api/";
    if (path.substr(0, kPrefix.size()) != kPrefix) return false;
    path.remove_prefix(kPrefix.size());
    auto slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0) return false;
    std::string_view site = path.substr(0, slash);
    path.remove_prefix(slash);
    std::string_view area;
    for (std::string_view a : {"pay", "admin"})
        if (path.size() > a.size() + 2 && path.substr(1, a.size()) == a && path[a.size() + 1] == '/')
            area = a;
    if (area.empty()) return false;
    std::string_view action = path.substr(area.size() + 2);
    if (action.empty() || action.size() > 32 || action.find('/') != std::string_view::npos) return false;
    out.site.assign(site);
    out.area.assign(area);
    out.action.assign(action);
    return true;
}

bool ValidSiteId(std::string_view site) {
    if (site.empty() || site.size() > 64 || site == "." || site == "..") return false;
    for (char c : site)
        if (!SiteChar(c)) return false;
    return true;
}

unsigned MethodBit(std::string_view method) {
    if (method == "GET") return static_cast<unsigned>(Method::kGet);
    if (method == "HEAD") return static_cast<unsigned>(Method::kHead);
    if (method == "POST") return static_cast<unsigned>(Method::kPost);
    return 0;
}

Response MethodNotAllowed(unsigned methods) {
    Response r = Fail(Err::kMethodNotAllowed);
    std::string allow;
    for (auto [bit, name] :
         {std::pair{Method::kGet, "GET"}, {Method::kHead, "HEAD"}, {Method::kPost, "POST"}})
        if (methods & unsigned(bit)) allow += (allow.empty() ? "" : ", ") + std::string(name);
    r.headers.emplace_back("Allow", allow);
    return r;
}

}  // namespace orderpay::http

// Operator endpoints refuse query names they do not read (admin/orders, admin/order).
#include "orderpay/handlers/query_names.hpp"

#include <string>

#include "orderpay/http/json_body.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::handlers {

std::optional<http::Response> RefuseUnknownArgs(const http::Request& req,
                                                std::initializer_list<std::string_view> known) {
    for (const auto& [name, value] : req.query) {
        if (name == "_") continue;
        bool ok = false;
        for (std::string_view k : known) ok = ok || k == name;
        if (ok) continue;
        std::string shown = http::TextOrEscaped(name, http::kMaxEchoedName);
        if (shown.size() < name.size()) shown += "…";
        return http::Fail(http::Err::kBadQuery, "unknown query name " + shown);
    }
    return std::nullopt;
}

}  // namespace orderpay::handlers

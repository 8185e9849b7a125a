// The `limit` query parameter of the paged lists.
#include "orderpay/handlers/page_limit.hpp"

#include <string>

#include "orderpay/domain/ids.hpp"

namespace orderpay::handlers {

std::variant<int, http::Response> PageLimit(const http::Request& req, int dflt, int max) {
    std::optional<std::string> l = req.Arg("limit");
    if (!l) return dflt;
    const std::string most = std::to_string(max);
    std::optional<std::int64_t> v = domain::ParseDigits(*l, most.size());
    if (!v || *v < 1 || *v > max)
        return http::Fail(http::Err::kBadQuery, "limit must be a whole number from 1 to " + most);
    return static_cast<int>(*v);
}

}  // namespace orderpay::handlers

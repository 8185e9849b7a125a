// Request helpers that need no FastCGI: header lookup by CGI name, query text.
#include "orderpay/http/request.hpp"

#include "orderpay/http/utf8.hpp"

namespace orderpay::http {

std::optional<std::string> Request::Header(const std::string& cgi_name) const {
    auto it = headers.find(cgi_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

bool Request::QueryIsText() const {
    for (const auto& [name, value] : query)
        if (!IsText(name) || !IsText(value)) return false;
    return true;
}

}  // namespace orderpay::http

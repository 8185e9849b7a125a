// Request helpers that need no FastCGI: header lookup by CGI name.
#include "orderpay/http/request.hpp"

namespace orderpay::http {

std::optional<std::string> Request::Header(const std::string& cgi_name) const {
    auto it = headers.find(cgi_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

}  // namespace orderpay::http

// Request helpers that need no FastCGI: the query's arguments, header lookup by CGI name, media type.
#include "orderpay/http/request.hpp"

#include <utility>

#include "orderpay/http/utf8.hpp"

namespace orderpay::http {

std::optional<std::string> Request::Header(const std::string& cgi_name) const {
    auto it = headers.find(cgi_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

void Request::ReadQuery() {
    query_error.clear();
    if (std::optional<FormPairs> q = ParseQuery(query_string, query_error)) {
        query = std::move(*q);
        query_ok = true;
        return;
    }
    std::optional<FormPairs> q = ParseForm(query_string);
    query_ok = q.has_value();
    query = q ? std::move(*q) : FormPairs{};
}

bool Request::QueryIsText() const {
    for (const auto& [name, value] : query)
        if (!IsText(name) || !IsText(value)) return false;
    return true;
}

bool IsJsonMediaType(std::string_view content_type) {
    // RFC 9110: type/subtype is case-insensitive and may be followed by ";" parameters, with
    // optional whitespace around the semicolon.
    std::string_view type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
    constexpr std::string_view kJson = "application/json";
    return EqualsAsciiNoCase(type, kJson);
}

bool IfNoneMatchHas(std::string_view header, std::string_view etag) {
    while (true) {
        std::size_t comma = header.find(',');
        std::string_view one = header.substr(0, comma);
        while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
        while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
        if (one.starts_with("W/")) one.remove_prefix(2);
        if (one == "*" || (!one.empty() && one == etag)) return true;
        if (comma == std::string_view::npos) return false;
        header.remove_prefix(comma + 1);
    }
}

}  // namespace orderpay::http

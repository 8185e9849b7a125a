// One HTTP request as the FastCGI params and body describe it, and the reply we send back.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/http/form.hpp"

namespace orderpay::http {

struct Request {
    std::string method;                          // REQUEST_METHOD
    std::string path;                            // DOCUMENT_URI (decoded by nginx), without the query
    std::string query_string;                    // QUERY_STRING, raw
    std::string content_type;                    // CONTENT_TYPE
    std::string remote_addr;                     // REMOTE_ADDR
    std::string request_id;                      // REQUEST_ID: nginx's $request_id (raw, unchecked)
    std::map<std::string, std::string> headers;  // HTTP_* params: "HTTP_WECHATPAY_SERIAL"
    std::string body;                            // exactly CONTENT_LENGTH bytes
    /// SSL_CLIENT_S_DN when nginx verified the client's certificate (SSL_CLIENT_VERIFY is
    /// SUCCESS), else "": params nginx sets itself, which no request header can forge.
    std::string client_cert_dn;
    FormPairs query;          // decoded query (empty if malformed)
    bool query_ok = true;     // false when QUERY_STRING had a bad escape or too many arguments
    std::string query_error;  // why orderpay refuses the query (ParseQuery), "" when it does not

    /// Sets query, query_ok and query_error from query_string. A name given twice or an empty
    /// one still leaves the pairs (paysim reads its query as it comes); orderpay's routes and
    /// browser returns refuse such a query with query_error (400 e.www.api.invalid.query).
    void ReadQuery();

    std::optional<std::string> Arg(std::string_view name) const { return FormValue(query, name); }
    std::optional<std::string> Header(const std::string& cgi_name) const;

    /// True when every decoded query name and value is UTF-8 without NUL (http/utf8.hpp). The
    /// buyer API requires it; a provider's notification query may be in its own charset.
    bool QueryIsText() const;
};

/// True for the media type application/json, any letter case, with or without parameters
/// ("application/json; charset=utf-8").
bool IsJsonMediaType(std::string_view content_type);

/// RFC 9110 If-None-Match: true when the header lists `etag` (a quoted strong tag) or is "*".
/// The comparison is weak, as the RFC asks for If-None-Match: a W/ prefix on a listed tag is
/// ignored. Whitespace around the commas and empty list elements are allowed.
bool IfNoneMatchHas(std::string_view header, std::string_view etag);

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace orderpay::http

// `orderpay inbox show ID [--body-only|--headers-only]`: one stored notification as it arrived,
// so it can be read, or piped into `orderpay notify verify`, without psql (review s28-newuser).
#include <algorithm>
#include <ctime>
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/notifications.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kUsage = "inbox show ID [--body-only | --headers-only] [--json]";

// Migration 023 scrubbed these from old rows and new rows never hold them; a row written by a
// worker of an older release after the migration still could, and they are never printed.
bool Credential(const std::string& cgi) {
    return cgi == "HTTP_COOKIE" || cgi == "HTTP_AUTHORIZATION" || cgi == "HTTP_PROXY_AUTHORIZATION";
}

// HTTP_WECHATPAY_SIGNATURE -> Wechatpay-Signature, CONTENT_TYPE -> Content-Type: the names as
// `curl -D` writes them, which `notify verify --headers` turns back into the same CGI names.
std::string HeaderName(const std::string& cgi) {
    const std::string bare = cgi.rfind("HTTP_", 0) == 0 ? cgi.substr(5) : cgi;
    std::string out;
    bool first = true;
    for (char c : bare) {
        if (c == '_') {
            out += '-';
            first = true;
        } else {
            out += first ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            first = false;
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> Headers(const providers::RawNotification& raw) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!raw.content_type.empty()) out.emplace_back("Content-Type", raw.content_type);
    // nginx passes the body's type both as CONTENT_TYPE and as HTTP_CONTENT_TYPE: one line, so
    // that the JSON object has each name once.
    for (const auto& [k, v] : raw.headers) {
        std::string name = HeaderName(k);
        const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& h) { return h.first == name; });
        if (!Credential(k) && !seen) out.emplace_back(std::move(name), v);
    }
    return out;
}

// What `notify verify --body` evaluates: the body, or for a browser return (a GET, which carries
// none) its query string after a '?', which notify verify takes as the return URL's.
std::string VerifyInput(const providers::RawNotification& raw) {
    return raw.method == "GET" && raw.body.empty() ? "?" + raw.query : raw.body;
}

void Json(const store::StoredNotification& n) {
    const auto& raw = n.raw;
    std::cout << "{\"id\":" << n.id << ",\"provider\":" << http::JsonString(n.provider)
              << ",\"site\":" << http::JsonString(n.site_id)
              << ",\"slip\":" << (n.slip_id.empty() ? "null" : http::JsonString(n.slip_id)) << ",\"method\":"
              << http::JsonString(raw.method)
              // null for a row no request brought (QUERY, ANSWER: orderpay's own query or the
              // answer to its own refund request), as the text says "none": a route there named
              // an endpoint no one called (review s36 helper-125 #3).
              << ",\"route\":"
              << (raw.method == "QUERY" || raw.method == "ANSWER"
                      ? std::string("null")
                      : http::JsonString("/api/" + n.site_id + "/pay/re_" + n.provider))
              << ",\"query\":\"" << log::JsonEscape(raw.query)
              << "\",\"verdict\":" << http::JsonString(n.verdict) << ",\"reason\":\""
              << log::JsonEscape(n.reason) << "\",\"ct\":" << n.ct_ms
              << ",\"received\":" << http::JsonString(Utc(n.ct_ms))
              << ",\"request_id\":" << (n.request_id.empty() ? "null" : http::JsonString(n.request_id))
              << ",\"remote_addr\":" << http::JsonString(n.remote_addr) << ",\"headers\":{";
    bool first = true;
    for (const auto& [name, value] : Headers(raw)) {
        std::cout << (first ? "" : ",") << '"' << log::JsonEscape(name) << "\":\"" << log::JsonEscape(value)
                  << '"';
        first = false;
    }
    // A body that is not UTF-8 (an Alipay form in GBK, a forgery's bytes) cannot be a JSON string
    // as it is: it is given in base64, so every byte survives and the JSON still parses.
    const bool text = http::IsUtf8(raw.body);
    std::cout << "},\"body_encoding\":\"" << (text ? "utf-8" : "base64") << "\",\"body\":"
              << (text ? http::JsonString(raw.body) : '"' + crypto::Base64Encode(raw.body) + '"')
              << ",\"body_bytes\":" << raw.body.size() << "}\n";
}

void Text(const store::StoredNotification& n) {
    const auto& raw = n.raw;
    std::cout << "id           " << n.id << "\nprovider     " << n.provider << "\nsite         " << n.site_id
              << "\nroute        "
              // No request brought it: our own order query's record (app/query_refunded.cpp), or
              // a provider's answer to our own refund request or query that contradicts the
              // refund's recorded result (app/refund.cpp).
              << (raw.method == "QUERY"    ? std::string("none: orderpay's own order query found this")
                  : raw.method == "ANSWER" ? std::string("none: the answer to orderpay's own request or "
                                                         "query about a refund said this")
                                           : raw.method + " /api/" + n.site_id + "/pay/re_" + n.provider +
                                                 (raw.query.empty() ? "" : "?" + log::TextEscape(raw.query)))
              << "\nslip         " << (n.slip_id.empty() ? "-" : n.slip_id) << "\nverdict      " << n.verdict
              << "\nreason       " << log::TextEscape(n.reason) << "\nreceived     " << Utc(n.ct_ms)
              << "\nrequest_id   " << (n.request_id.empty() ? "-" : n.request_id) << "\nremote_addr  "
              << (n.remote_addr.empty() ? "-" : n.remote_addr) << "\nheaders\n";
    for (const auto& [name, value] : Headers(raw))
        std::cout << "  " << log::TextEscape(name) << ": " << log::TextEscape(value) << '\n';
    // Line by line, each escaped (no terminal control reaches the screen); --body-only is exact.
    std::cout << "body (" << raw.body.size() << " bytes)\n";
    std::size_t pos = 0;
    while (pos < raw.body.size()) {
        std::size_t end = raw.body.find('\n', pos);
        if (end == std::string::npos) end = raw.body.size();
        std::cout << "  " << log::TextEscape(std::string_view(raw.body).substr(pos, end - pos)) << '\n';
        pos = end + 1;
    }
}

}  // namespace

int InboxShow(Env& env, const Args& a) {
    if (a.pos.size() != 3) throw UsageError(kUsage);
    const std::string& id = a.pos[2];
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("inbox show ID: the notification's number, as `inbox list` shows it");
    const bool body_only = a.Has("body-only"), headers_only = a.Has("headers-only");
    if (body_only + headers_only + a.json > 1) throw UsageError("one of --body-only, --headers-only, --json");
    std::optional<store::StoredNotification> n = store::FindNotification(env.db, id);
    if (!n) throw Refusal("no such notification " + id);
    if (body_only) {
        // The bytes exactly, no newline added: `orderpay inbox show ID --body-only | orderpay
        // notify verify --body -` evaluates what the endpoint evaluated.
        const std::string body = VerifyInput(n->raw);
        std::cout.write(body.data(), static_cast<std::streamsize>(body.size()));
        std::cout.flush();
        return std::cout ? 0 : 1;
    }
    if (headers_only) {
        for (const auto& [name, value] : Headers(n->raw))
            std::cout << log::TextEscape(name) << ": " << log::TextEscape(value) << '\n';
        return 0;
    }
    if (a.json) {
        Json(*n);
    } else {
        Text(*n);
    }
    return 0;
}

}  // namespace orderpay::cli

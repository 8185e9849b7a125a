// Outbound HTTP(S) calls to provider gateways with libcurl: connect and total timeouts, a
// response size cap, and failures classified so a timeout is "unknown", never "failed".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderpay::providers {

struct HttpOptions {
    long connect_timeout_ms = 3000;
    long timeout_ms = 10000;
    std::size_t max_response = 1 << 20;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string ca_file;  // trusted roots for HTTPS ("" = SetDefaultCaFile's, else the system store)
    // The merchant's TLS client certificate and its key (PEM files), for the endpoints that
    // demand one (WeChat Pay v2 /secapi/*). Empty: none is sent.
    std::string client_cert_file;
    std::string client_key_file;
};

enum class HttpFail {
    kNone,     // got an HTTP response (any status)
    kTimeout,  // connect or total timeout: the request may have been processed
    kConnect,  // could not connect: the request was certainly not processed
    kOther,    // anything else (TLS, too large, malformed): outcome unknown
};

struct HttpResult {
    HttpFail fail = HttpFail::kNone;
    long status = 0;
    std::string body;
    std::string error;  // curl's message; safe to log (contains no request body)
    /// Response header lines of the final response, names lower-cased, values trimmed
    /// (WeChat Pay v3 signs its answers in Wechatpay-* headers).
    std::vector<std::pair<std::string, std::string>> headers;

    /// The first header named `lower_name`, "" when absent.
    std::string Header(std::string_view lower_name) const;
};

/// POSTs `body` (GET when method is "GET" and body empty). Never throws.
HttpResult HttpRequest(const std::string& method, const std::string& url, const std::string& body,
                       const std::string& content_type, const HttpOptions& opts);

/// Call once at process start (before fork is fine): curl_global_init.
void HttpGlobalInit();

/// The trusted roots every call uses when its HttpOptions names none (config tls.ca_file; "" =
/// the system store). Set once per process when the providers are made. The peer and its host
/// name are always verified: there is no way to switch that off.
void SetDefaultCaFile(std::string path);

}  // namespace orderpay::providers

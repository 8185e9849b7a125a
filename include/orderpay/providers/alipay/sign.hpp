// Alipay OpenAPI (gateway v1) signing rules, PROTOCOLS.md §2.1, §2.3, §2.6: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/crypto/rsa.hpp"

namespace orderpay::alipay {

using Params = std::vector<std::pair<std::string, std::string>>;

/// Request sign content: every parameter except "sign" whose value is non-empty, sorted by key
/// (byte order), joined "k=v&..." with raw (unencoded) values. "sign_type" IS included.
std::string RequestSignContent(const Params& params);

/// Notification / return-URL verify content: as RequestSignContent but "sign" AND "sign_type"
/// are excluded (rsaCheckV1). Values are the percent-decoded bytes as received (GBK stays GBK).
std::string NotifySignContent(const Params& params);

/// Signs a request: returns base64 SHA256withRSA over RequestSignContent(params).
std::string SignRequest(const Params& params, const crypto::PKey& app_private_key);

/// Verifies a notification's form parameters (already percent-decoded to bytes): "sign" must be
/// present and non-empty, "sign_type" must be "RSA2" when present. `reason` says why it failed.
bool VerifyNotification(const Params& params, const crypto::PKey& alipay_public_key, std::string& reason);

/// The signed part of a synchronous gateway response: the raw text of the JSON value of
/// "<method with '.' -> '_'>_response" (or "error_response"), found by brace matching that
/// respects strings and escapes, plus the top-level "sign" value. Never re-serialises JSON.
struct SignedResponse {
    std::string content;  // exact bytes that were signed
    std::string sign;     // base64 signature ("" when absent)
    bool is_error_response = false;
};
std::optional<SignedResponse> ExtractSignedResponse(std::string_view body, std::string_view method);

/// Verifies a gateway response for `method`; on success `content` is the response object text,
/// and `error_response` (when given) says it was the `error_response` node, not the method's.
bool VerifyResponse(std::string_view body, std::string_view method, const crypto::PKey& alipay_public_key,
                    std::string& content, std::string& reason, bool* error_response = nullptr);

/// "yyyy-MM-dd HH:mm:ss" in GMT+8 for the `timestamp` common parameter.
std::string GatewayTimestamp(long long epoch_seconds);

/// Converts GBK (or GB18030) bytes to UTF-8 with iconv, for storing and showing notification
/// text after verification; nullopt on invalid input. UTF-8 input with charset utf-8 is
/// returned unchanged by the caller, not here.
std::optional<std::string> GbkToUtf8(std::string_view gbk);

}  // namespace orderpay::alipay

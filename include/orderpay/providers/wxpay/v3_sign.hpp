// WeChat Pay API v3 signatures, pure (PROTOCOLS.md §1.6-§1.8): the request message and its
// Authorization header, the answer/notification message and its check, the JSAPI paySign, and
// the AES-256-GCM resource. No I/O and no clock: callers pass the time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"

namespace orderpay::wxpay::v3 {

inline constexpr std::string_view kSchema = "WECHATPAY2-SHA256-RSA2048";
inline constexpr std::int64_t kMaxSkewSeconds = 300;

/// METHOD\nURL\ntimestamp\nnonce\nbody\n; `url` is the path and raw query ("" body for a GET).
std::string RequestMessage(std::string_view method, std::string_view url, std::string_view timestamp,
                           std::string_view nonce, std::string_view body);

/// The Authorization value: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
/// signature="..",timestamp="..",serial_no="..". Empty when signing fails.
std::string Authorization(const crypto::PKey& merchant_key, std::string_view mchid,
                          std::string_view serial_no, std::string_view method, std::string_view url,
                          std::string_view timestamp, std::string_view nonce, std::string_view body);

/// The Authorization parameters by name (SDKs order them differently); nullopt unless it starts
/// with the schema and every parameter is name="value" with a name given once. Values hold no
/// quote or comma.
std::optional<std::map<std::string, std::string>> ParseAuthorization(std::string_view header);

/// timestamp\nnonce\nbody\n: what answers and notifications are signed over.
std::string AnswerMessage(std::string_view timestamp, std::string_view nonce, std::string_view body);

/// Checks `signature` (base64 SHA256withRSA) over AnswerMessage with `key`. WeChat's probe
/// signatures ("WECHATPAY/SIGNTEST/...") are not base64 and simply fail.
bool VerifyAnswer(const crypto::PKey& key, std::string_view timestamp, std::string_view nonce,
                  std::string_view body, std::string_view signature);

/// base64 signature over AnswerMessage (paysim's side, and tests).
std::string SignAnswer(const crypto::PKey& key, std::string_view timestamp, std::string_view nonce,
                       std::string_view body);

/// True when `timestamp` is decimal epoch seconds within kMaxSkewSeconds of `now`.
bool TimestampFresh(std::string_view timestamp, std::int64_t now);

/// The JSAPI paySign: base64 RSA over appId\ntimeStamp\nnonceStr\npackage\n.
std::string JsapiPaySign(const crypto::PKey& merchant_key, std::string_view app_id,
                         std::string_view timestamp, std::string_view nonce, std::string_view package);

/// Decrypts a resource (or a platform certificate): ciphertext is base64 of ct||tag, nonce and
/// associated_data are used as their UTF-8 bytes. False with `error` set on any failure.
bool DecryptResource(std::string_view apiv3_key, std::string_view nonce, std::string_view associated_data,
                     std::string_view ciphertext_b64, std::string& plain, std::string& error);

/// The inverse, base64 of ct||tag (paysim, tests).
std::string EncryptResource(std::string_view apiv3_key, std::string_view nonce,
                            std::string_view associated_data, std::string_view plain);

}  // namespace orderpay::wxpay::v3

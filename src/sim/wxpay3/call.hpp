// paysim's WeChat Pay API v3: a merchant's keys (paysim.merchants.options of a wx merchant with
// "api":"v3"), one authenticated call (the Authorization parameters read by name, the signature
// checked with the merchant's public key), and answers signed with paysim's "platform" key in
// all four Wechatpay-* headers, 204 included, as WeChat's SDKs require.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

/// A v3 merchant as paysim knows it. Options:
///   {"api":"v3","merchant_public_key":PEM,"cert_serial":HEX,"platform_private_key":PEM,
///    "public_key_id":"PUB_KEY_ID_..." and/or "platform_cert":PEM,"platform_serial":HEX}
/// Answers and notifications name public_key_id when there is one, else platform_serial.
struct Wx3Merchant {
    wx_store::Merchant row;
    crypto::PKey merchant_public;
    std::string cert_serial;
    crypto::PKey platform_private;
    std::string public_key_id;
    std::string platform_cert;  // PEM, served by /v3/certificates (certificate mode)
    std::string platform_serial;

    /// The serial answers and notifications carry.
    const std::string& SigningSerial() const {
        return public_key_id.empty() ? platform_serial : public_key_id;
    }
};

/// The v3 merchant of a stored row; nullopt when the row is not a v3 merchant or its keys do not parse.
std::optional<Wx3Merchant> AsWx3Merchant(const wx_store::Merchant& row);

struct Wx3Call {
    Wx3Merchant merchant;
    rapidjson::Document body;  // a POST's JSON object (empty object for a GET)
};

/// Authenticates a v3 request: Authorization with a known v3 mchid, its serial_no, a fresh
/// timestamp and a valid signature over METHOD\nURL\ntimestamp\nnonce\nbody\n; a POST's body must be
/// a JSON object. On failure returns nullopt with `reply` set (401 SIGN_ERROR, 400 PARAM_ERROR).
std::optional<Wx3Call> OpenWx3Call(Ctx& ctx, const http::Request& req, http::Response& reply);

/// A signed answer: `status` with `body` (JSON, or "" for 204) and the four Wechatpay-* headers.
http::Response Wx3Signed(const Wx3Merchant& m, int status, std::string body);

/// An error answer {"code","message"} (signed when a merchant is known, like the real gateway).
http::Response Wx3Error(int status, std::string_view code, std::string_view message,
                        const Wx3Merchant* m = nullptr);

/// A string member of a JSON object ("" when absent or not a string); `b` reads obj[a][b].
std::string JsonStr(const rapidjson::Value& obj, const char* a, const char* b = nullptr);

}  // namespace orderpay::sim

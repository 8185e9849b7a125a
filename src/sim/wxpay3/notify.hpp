// paysim's WeChat Pay v3 payment notification: the Transaction encrypted with the APIv3 key,
// the body signed with the "platform" key under the merchant's serial (public-key ID or platform
// certificate), and /sim/pay's v3 tamper knobs, as pure functions where possible.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/tamper.hpp"
#include "sim/wxpay/store.hpp"
#include "sim/wxpay3/call.hpp"

namespace orderpay::sim {

enum class Wx3Tamper {
    kNone,
    kSign,            // one character of Wechatpay-Signature changed
    kSerial,          // Wechatpay-Serial names a key nobody has (re-signed: only the serial is wrong)
    kTimestamp,       // Wechatpay-Timestamp ten minutes old, correctly signed
    kCiphertext,      // one byte of the resource ciphertext changed, body re-signed (tag fails)
    kAad,             // associated_data changed, body re-signed (tag fails)
    kAmountResigned,  // amount.total + 1 inside, re-encrypted and re-signed
    kAppid,           // another appid inside, re-encrypted and re-signed
};

inline constexpr std::array kWx3TamperNames = {
    TamperName<Wx3Tamper>{"sign", Wx3Tamper::kSign},
    TamperName<Wx3Tamper>{"serial", Wx3Tamper::kSerial},
    TamperName<Wx3Tamper>{"timestamp", Wx3Tamper::kTimestamp},
    TamperName<Wx3Tamper>{"ciphertext", Wx3Tamper::kCiphertext},
    TamperName<Wx3Tamper>{"aad", Wx3Tamper::kAad},
    TamperName<Wx3Tamper>{"amount_resigned", Wx3Tamper::kAmountResigned},
    TamperName<Wx3Tamper>{"appid", Wx3Tamper::kAppid},
};

struct Wx3Notice {
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// What a notification's envelope says around its sealed resource.
struct Wx3Envelope {
    std::string event_type;     // TRANSACTION.SUCCESS, REFUND.SUCCESS, ...
    std::string summary;        // 支付成功, 退款成功, ...
    std::string original_type;  // transaction, refund: also the associated_data
    std::string create_time;
};

/// `plain` encrypted with the merchant's APIv3 key into the envelope `e`, the body signed with
/// paysim's platform key, spoiled by `tamper` where it concerns the envelope (the caller spoils
/// the plaintext for kAmountResigned and kAppid).
Wx3Notice SealWx3Notice(const Wx3Merchant& m, const std::string& plain, const Wx3Envelope& e,
                        Wx3Tamper tamper, std::int64_t now);

/// The TRANSACTION.SUCCESS notification of the paid trade `t` at time `now`, spoiled by `tamper`.
Wx3Notice BuildWx3Notice(const Wx3Merchant& m, const wx_store::Trade& t, Wx3Tamper tamper, std::int64_t now);

}  // namespace orderpay::sim

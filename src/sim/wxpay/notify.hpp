// The WeChat v2 payment notification paysim sends to a trade's notify_url (core/deliver sends it).
#pragma once

#include <cstdint>
#include <string>

#include "orderpay/http/xml.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

/// yyyyMMddHHmmss in GMT+8 (WeChat's time_end), from epoch seconds.
std::string TimeEnd(std::int64_t epoch_seconds);

/// The signed v2 notification of a paid trade (state SUCCESS, with transaction_id, paid_at,
/// notify_nonce): every field the real gateway sends, sign_type when HMAC, and sign.
http::XmlFields NotificationFields(const wx_store::Trade& t, const wx_store::Merchant& m);

}  // namespace orderpay::sim

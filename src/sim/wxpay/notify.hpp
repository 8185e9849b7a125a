// The payment notification paysim sends to a trade's notify_url: its fields, and its delivery.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orderpay/http/xml.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

/// yyyyMMddHHmmss in GMT+8 (WeChat's time_end), from epoch seconds.
std::string TimeEnd(std::int64_t epoch_seconds);

/// The signed v2 notification of a paid trade (state SUCCESS, with transaction_id, paid_at,
/// notify_nonce): every field the real gateway sends, sign_type when HMAC, and sign.
http::XmlFields NotificationFields(const store::Trade& t, const store::Merchant& m);

struct Delivery {
    long status = 0;    // HTTP status, 0 when no response
    std::string body;   // the reply body as received
    std::string error;  // transport failure, empty when a response arrived
};

/// POSTs `body` (`content_type`: WeChat's text/xml unless given) to `url` `copies` times at once,
/// one thread per copy released together, and returns the outcomes in order.
std::vector<Delivery> DeliverConcurrently(const std::string& url, const std::string& body, int copies,
                                          long connect_timeout_ms, long timeout_ms,
                                          const std::string& content_type = "text/xml");

}  // namespace orderpay::sim

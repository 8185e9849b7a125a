// Delivery of /sim/pay's notifications, the same for every provider: copies POSTed at once to
// the trade's notify_url, the outcome logged and reported in /sim/pay's answer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

struct Delivery {
    long status = 0;    // HTTP status, 0 when no response
    std::string body;   // the reply body as received
    std::string error;  // transport failure, empty when a response arrived
};

/// POSTs `body` as `content_type` to `url` `copies` times at once, one thread per copy released
/// together, and returns the outcomes in order.
using Headers = std::vector<std::pair<std::string, std::string>>;
std::vector<Delivery> DeliverConcurrently(const std::string& url, const std::string& body, int copies,
                                          long connect_timeout_ms, long timeout_ms,
                                          const std::string& content_type, const Headers& headers = {});

/// /sim/pay's answer data: {out_trade_no, transaction_id, sent, replies:[{status, body[, error]}]}.
std::string PayReplyJson(std::string_view out_trade_no, std::string_view transaction_id, int sent,
                         const std::vector<Delivery>& replies);

/// One /sim/pay's notification of a settled trade, ready to go.
struct Notice {
    std::string out_trade_no;    // for the answer
    std::string transaction_id;  // the provider's trade id, for the answer
    std::string url;             // the trade's notify_url
    std::string content_type;
    Headers headers;  // sent with every copy (WeChat v3's Wechatpay-*, PayPal's transmission headers)
    std::string body;
    int copies = 0;    // 0: nothing is sent (no notify_url, or a lost notification)
    std::string what;  // what the log line is about: "sim/pay <out_trade_no>"
};

/// Sends `n`: sleeps `delay_ms`, POSTs the copies at once, logs their statuses, and returns
/// /sim/pay's answer. With no copies it answers at once: sent 0, no replies.
http::Response SendNotice(const SimOptions& opts, const Notice& n, int delay_ms);

}  // namespace orderpay::sim

// The test-control API for refunds of PayPal and WeChat Pay v3 trades: /sim/refund finishes a
// pending refund (or leaves it) and sends the provider's refund notification with fault knobs;
// /sim/refunds lists a trade's refunds with the total refunded, for tests that compare it with
// what orderpay recorded.
#pragma once

#include <string>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

/// /sim/refund's arguments.
struct SimRefundArgs {
    std::string out_refund_no;  // orderpay's refund id (PayPal invoice_id, WeChat out_refund_no)
    std::string provider;       // "paypal" or "wx"; "" looks in both
    std::string status;         // the final status to move a pending refund to; "" keeps it
    int times = 1;              // 0..50 copies of the notification sent at once
    int delay_ms = 0;           // 0..10000, slept before sending
    std::string tamper;         // the provider's tamper names, as for /sim/pay
};

/// Reads and range-checks the arguments; returns a message for the first bad one, or "".
std::string ParseSimRefundArgs(const http::FormPairs& form, SimRefundArgs& out);

http::Response SimRefund(Ctx& ctx, const http::Request& req);   // POST /sim/refund (form)
http::Response SimRefunds(Ctx& ctx, const http::Request& req);  // GET /sim/refunds?out_trade_no=

}  // namespace orderpay::sim

// The test-control API for Alipay trades: /sim/pay ("the buyer pays", then the signed form
// notification with fault knobs), /sim/trade's view of a zfb trade, and /sim/return_url.
#pragma once

#include <optional>
#include <string>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"
#include "sim/alipay/store.hpp"
#include "sim/alipay/tamper.hpp"
#include "sim/core/context.hpp"
#include "sim/core/control.hpp"

namespace orderpay::sim {

/// /sim/pay's Alipay-only arguments (the shared ones are in PayArgs).
struct ZfbPayArgs {
    ZfbTamper tamper = ZfbTamper::kNone;
    bool gbk = false;                            // charset=gbk
    std::optional<std::string> subject;          // overrides the trade's subject in the notification
    std::string trade_status = "TRADE_SUCCESS";  // or WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_FINISHED
};

/// Reads and checks tamper, charset, subject and trade_status; returns a message for the first
/// bad one, or "".
std::string ParseZfbPayArgs(const http::FormPairs& form, ZfbPayArgs& out);

/// /sim/pay for the zfb trade `t`: brings it to the state `z.trade_status` implies, then sends
/// `a.times` copies of the notification to its notify_url (none when 0: the notification is lost).
http::Response ZfbSimPay(Ctx& ctx, const PayArgs& a, const ZfbPayArgs& z, zfb_store::Trade t);

/// /sim/trade's JSON for a zfb trade.
std::string ZfbTradeJson(const zfb_store::Trade& t);

http::Response SimReturnUrl(Ctx& ctx, const http::Request& req);  // GET /sim/return_url?out_trade_no=

/// POST /sim/refund_notify (form: out_trade_no, out_request_no, times, delay_ms, tamper): sends
/// the signed notification Alipay sends after a refund (out_biz_no, refund_fee, gmt_refund;
/// TRADE_SUCCESS, or TRADE_CLOSED once the whole amount went back) for a refund paysim made.
http::Response ZfbSimRefundNotify(Ctx& ctx, const http::Request& req);

}  // namespace orderpay::sim

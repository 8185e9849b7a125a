// The test-control API: /sim/pay ("the buyer pays": notify, with fault knobs) and /sim/trade,
// for WeChat trades and, through sim/alipay/control.hpp, Alipay trades.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/tamper.hpp"

namespace orderpay::sim {

/// /sim/pay's arguments.
struct PayArgs {
    std::string out_trade_no;
    std::string provider;           // optional: "wx" or "zfb" when both have a trade with this out_trade_no
    std::string mch_id;             // optional: needed only when two merchants used the same out_trade_no
    int times = 1;                  // 1..50 copies sent at once
    Tamper tamper = Tamper::kNone;  // WeChat only (Alipay's knobs: sim/alipay/control.hpp)
    int delay_ms = 0;               // 0..10000, slept before sending
    bool force = false;  // pay a closed (CLOSED/REVOKED/PAYERROR, TRADE_CLOSED) trade anyway: a late payment
};

/// Reads and range-checks the fields every provider shares (out_trade_no, provider, mch_id,
/// times, delay_ms, force); returns a message for the first bad one, or "".
std::string ParseCommonPayArgs(const http::FormPairs& form, PayArgs& out);

/// ParseCommonPayArgs plus WeChat's tamper.
std::string ParsePayArgs(const http::FormPairs& form, PayArgs& out);

/// The /sim endpoints' arguments: the form body (POST) followed by the query string (the first
/// occurrence of a name wins). nullopt when either is malformed.
std::optional<http::FormPairs> SimArguments(const http::Request& req);

/// /sim/pay's answer data: {out_trade_no, transaction_id, sent, replies:[{status, body[, error]}]}.
std::string PayReplyJson(std::string_view out_trade_no, std::string_view transaction_id, int sent,
                         const std::vector<Delivery>& replies);

http::Response SimPay(Ctx& ctx, const http::Request& req);    // POST /sim/pay (form)
http::Response SimTrade(Ctx& ctx, const http::Request& req);  // GET /sim/trade?out_trade_no=

}  // namespace orderpay::sim

// The test-control API: /sim/pay ("the buyer pays": notify, with fault knobs) and /sim/trade.
#pragma once

#include <string>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"
#include "orderpay/sim/context.hpp"
#include "orderpay/sim/tamper.hpp"

namespace orderpay::sim {

/// /sim/pay's arguments.
struct PayArgs {
    std::string out_trade_no;
    std::string mch_id;  // optional: needed only when two merchants used the same out_trade_no
    int times = 1;       // 1..50 copies sent at once
    Tamper tamper = Tamper::kNone;
    int delay_ms = 0;    // 0..10000, slept before sending
    bool force = false;  // pay a CLOSED/REVOKED/PAYERROR trade anyway (a late payment)
};

/// Reads and range-checks /sim/pay's fields; returns a message for the first bad one, or "".
std::string ParsePayArgs(const http::FormPairs& form, PayArgs& out);

http::Response SimPay(Ctx& ctx, const http::Request& req);    // POST /sim/pay (form)
http::Response SimTrade(Ctx& ctx, const http::Request& req);  // GET /sim/trade?out_trade_no=

}  // namespace orderpay::sim

// The test-control API for WeChat trades: /sim/pay (the buyer pays, then the signed v2
// notification with WeChat's fault knobs) and /sim/trade's view of a wx trade.
#pragma once

#include <string>

#include "orderpay/http/form.hpp"
#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/core/control.hpp"
#include "sim/wxpay/store.hpp"
#include "sim/wxpay/tamper.hpp"

namespace orderpay::sim {

/// /sim/pay's WeChat-only arguments (the shared ones are in PayArgs).
struct WxPayArgs {
    Tamper tamper = Tamper::kNone;
};

/// Reads and checks tamper; returns a message when it is bad, or "".
std::string ParseWxPayArgs(const http::FormPairs& form, WxPayArgs& out);

/// /sim/pay for the wx trade `t`: pays it (once: a paid trade stays as it is, so a resend is
/// identical), then sends `a.times` copies of the notification to its notify_url (none when 0:
/// the notification is lost).
http::Response WxSimPay(Ctx& ctx, const PayArgs& a, const WxPayArgs& w, wx_store::Trade t);

/// /sim/trade's JSON for a wx trade.
std::string WxTradeJson(const wx_store::Trade& t);

}  // namespace orderpay::sim

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
#include "sim/wxpay3/notify.hpp"

namespace orderpay::sim {

/// /sim/pay's WeChat-only arguments (the shared ones are in PayArgs).
struct WxPayArgs {
    Tamper tamper = Tamper::kNone;
    Wx3Tamper tamper3 = Wx3Tamper::kNone;  // a v3 merchant's trade: its own knobs
};

/// Reads and checks tamper against v2's names, or v3's when `v3`; returns a message when it is
/// bad, or "".
std::string ParseWxPayArgs(const http::FormPairs& form, WxPayArgs& out, bool v3 = false);

/// True when the trade's merchant speaks API v3 (its /sim/pay sends a v3 notification).
bool IsWx3Trade(Ctx& ctx, const wx_store::Trade& t);

/// /sim/pay for the wx trade `t`: pays it (once: a paid trade stays as it is, so a resend is
/// identical), then sends `a.times` copies of the notification to its notify_url (none when 0:
/// the notification is lost).
http::Response WxSimPay(Ctx& ctx, const PayArgs& a, const WxPayArgs& w, wx_store::Trade t);

/// /sim/trade's JSON for a wx trade.
std::string WxTradeJson(const wx_store::Trade& t);

}  // namespace orderpay::sim

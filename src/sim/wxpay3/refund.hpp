// paysim's WeChat Pay v3 refunds: POST /v3/refund/domestic/refunds and GET
// /v3/refund/domestic/refunds/{out_refund_no} in WeChat's shapes, and the REFUND.* notification
// /sim/refund sends.
#pragma once

#include <cstdint>
#include <string>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/core/refunds.hpp"
#include "sim/wxpay3/call.hpp"
#include "sim/wxpay3/notify.hpp"
#include "sim/wxpay3/store.hpp"

namespace orderpay::sim {

/// POST /v3/refund/domestic/refunds of an authenticated call.
http::Response Wx3RefundCall(Ctx& ctx, const Wx3Call& call);
/// GET /v3/refund/domestic/refunds/{out_refund_no}.
http::Response Wx3RefundQuery(Ctx& ctx, const Wx3Call& call, const std::string& out_refund_no);

/// The Refund object the create and query answers carry.
std::string Wx3RefundJson(const wx3_store::Refund& r);

/// The REFUND.<status> notification about `r` at `now` (amount.refund one more for
/// kAmountResigned), spoiled by `tamper`.
Wx3Notice BuildWx3RefundNotice(const Wx3Merchant& m, const wx3_store::Refund& r, Wx3Tamper tamper,
                               std::int64_t now);

/// /sim/refund for a v3 refund: moves a PROCESSING refund to a.status (SUCCESS, ABNORMAL, CLOSED),
/// or an ABNORMAL one to SUCCESS or CLOSED, if given, then sends its notification to the refund's notify_url.
http::Response Wx3SimRefund(Ctx& ctx, const SimRefundArgs& a, wx3_store::Refund r);

}  // namespace orderpay::sim

// The Alipay OpenAPI gateway paysim answers (POST /gateway.do), method by method, as the real one
// does (PROTOCOLS.md §2.2-§2.5).
#pragma once

#include <cstdint>
#include <string>

#include "orderpay/http/request.hpp"
#include "sim/alipay/call.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

/// POST /gateway.do: authenticates the call and dispatches on `method`.
http::Response ZfbGateway(Ctx& ctx, const http::Request& req);

http::Response ZfbPrecreate(Ctx& ctx, const ZfbCall& call);  // alipay.trade.precreate
http::Response ZfbPay(Ctx& ctx, const ZfbCall& call);        // alipay.trade.pay (sim/alipay/pay.cpp)
http::Response ZfbQuery(Ctx& ctx, const ZfbCall& call);      // alipay.trade.query
http::Response ZfbClose(Ctx& ctx, const ZfbCall& call);      // alipay.trade.close
http::Response ZfbCancel(Ctx& ctx, const ZfbCall& call);     // alipay.trade.cancel
http::Response ZfbRefund(Ctx& ctx, const ZfbCall& call);     // alipay.trade.refund (sim/alipay/refund.cpp)
/// alipay.trade.fastpay.refund.query (sim/alipay/refund.cpp)
http::Response ZfbRefundQuery(Ctx& ctx, const ZfbCall& call);

/// Checks the fields precreate and pay share (out_trade_no, total_amount, subject, the notify_url
/// common parameter) and fills `t` from them; returns the sub_msg for the first bad one, "" when
/// all are good.
std::string ReadZfbOrder(const ZfbCall& call, zfb_store::Trade& t);

/// Alipay's out_trade_no: 1-64 characters of [0-9A-Za-z_-.].
bool ValidZfbOutTradeNo(std::string_view text);

/// What a query (and a paid trade.pay) shows of a trade beyond code/msg: out_trade_no,
/// trade_status, trade_no, amounts, buyer, send_pay_date, fund_bill_list.
ZfbMembers ZfbTradeFields(const zfb_store::Trade& t);

}  // namespace orderpay::sim

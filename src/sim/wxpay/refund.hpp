// paysim's WeChat Pay v2 refunds: the gateway's /secapi/pay/refund (client certificate required)
// and /pay/refundquery with the real answer shapes, and the control API that finishes a refund
// and sends its encrypted notification, sets a trade's refund knob, and shows its refunds.
#pragma once

#include <string>
#include <string_view>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/wxpay/call.hpp"

namespace orderpay::sim {

/// The CN of a verified client certificate's subject DN (RFC 2253, "CN=...,O=..."), "" if none.
std::string ClientCertCn(std::string_view dn);

/// /secapi/*: true when nginx verified a client certificate issued to the call's mch_id; else
/// `reply` is the gateway's refusal.
bool CheckClientCert(const http::Request& req, const WxCall& call, http::Response& reply);

http::Response WxRefund(Ctx& ctx, const http::Request& req);       // POST /secapi/pay/refund
http::Response WxRefundQuery(Ctx& ctx, const http::Request& req);  // POST /pay/refundquery

/// POST /sim/wx/refund_mode: out_trade_no, [mch_id], mode = "" | fail | timeout.
http::Response SimWxRefundMode(Ctx& ctx, const http::Request& req);
/// POST /sim/wx/refund_notify: out_refund_no, [mch_id], status = SUCCESS | REFUNDCLOSE | CHANGE,
/// times (0..50), tamper = "" | key | truncate, delay_ms. Finishes the refund, then sends its
/// notification (req_info encrypted as WeChat does) to the refund's notify_url.
http::Response SimWxRefundNotify(Ctx& ctx, const http::Request& req);
/// GET /sim/wx/refunds?out_trade_no=[&mch_id=]: {out_trade_no, refunded, refunds:[...]}, refunded
/// being the sum of the refunds that are not closed (CHANGE counts: WeChat holds that money).
http::Response SimWxRefunds(Ctx& ctx, const http::Request& req);

}  // namespace orderpay::sim

// /sim/pay for PayPal orders: the buyer approves, paysim captures, and sends the webhook the
// test asks for, signed as PayPal signs (PROTOCOLS.md §3.3) with paysim's certificate, or with
// one fault.
#pragma once

#include <string>

#include "orderpay/http/form.hpp"
#include "sim/core/control.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/refunds.hpp"

namespace orderpay::sim {

struct PpPayArgs {
    std::string event = "COMPLETED";  // APPROVED | COMPLETED | PENDING | DENIED
    std::string tamper;  // sign | amount | amount_resigned | crc | cert_host | cert_cn | cert_expired | algo
};

/// Reads event and tamper; returns a message for a bad one, else "".
std::string ParsePpPayArgs(const http::FormPairs& form, PpPayArgs& out);

http::Response PpSimPay(Ctx& ctx, const PayArgs& a, const PpPayArgs& p, pp_store::Order o);

/// PayPal's transmission headers for a webhook whose signed bytes are `signed_body`, spoiled by
/// `tamper` (PpPayArgs' names; "" for none); nullopt with `err` when paysim has no signing key.
std::optional<Headers> PpWebhookHeaders(Ctx& ctx, const pp_store::Merchant& m, const std::string& signed_body,
                                        const std::string& tamper, http::Response& err);

/// /sim/refund for a PayPal refund: moves a PENDING refund to a.status (if given), then sends
/// PAYMENT.CAPTURE.REFUNDED about it to the order's return URL (orderpay's pay/re_paypal).
http::Response PpSimRefund(Ctx& ctx, const SimRefundArgs& a, pp_store::Refund r);

/// POST /sim/paypal/capture_value (out_trade_no, value): from now on PayPal's answers about the
/// capture of the slip's order (capture calls, GET of the order) report `value` ("" clears it)
/// instead of the amount captured; webhooks and refunds keep the truth.
http::Response PpSimCaptureValue(Ctx& ctx, const http::Request& req);

/// The webhook PayPal sends for `event` about order `o` (exact bytes, what is signed).
std::string PpWebhookBody(const pp_store::Order& o, const std::string& event, const std::string& value);

}  // namespace orderpay::sim

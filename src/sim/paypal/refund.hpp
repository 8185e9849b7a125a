// paysim's PayPal Payments v2 refunds: POST /v2/payments/captures/{id}/refund and GET
// /v2/payments/refunds/{id}, in PayPal's shapes, and the PAYMENT.CAPTURE.REFUNDED webhook.
#pragma once

#include <string>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/paypal/store.hpp"

namespace orderpay::sim {

/// /v2/payments/... with a Bearer token from PpToken.
http::Response PpPayments(Ctx& ctx, const http::Request& req);

/// The refund as PayPal shows it (the representation; links under `base`).
std::string PpRefundJson(const pp_store::Refund& r, const std::string& base);

/// The PAYMENT.CAPTURE.REFUNDED webhook body about `r`, with `value` as the amount shown (a
/// tamper knob may change it).
std::string PpRefundWebhookBody(const pp_store::Refund& r, const std::string& value);

}  // namespace orderpay::sim

// paysim's PayPal REST API: /v1/oauth2/token and /v2/checkout/orders (create, get, capture),
// answering in PayPal's shapes, and the buyer's approval page /sim/paypal/approve.
#pragma once

#include <string>
#include <vector>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/paypal/store.hpp"

namespace orderpay::sim {

/// POST /v1/oauth2/token (Basic client_id:secret, grant_type=client_credentials).
http::Response PpToken(Ctx& ctx, const http::Request& req);
/// /v2/checkout/orders[/{id}[/capture]] with a Bearer token from PpToken.
http::Response PpOrders(Ctx& ctx, const http::Request& req);
/// GET /sim/paypal/approve?token=ID[&cancel=1]: the buyer approves (or cancels) and is sent
/// (302) to the order's return_url with token and PayerID (or to its cancel_url).
http::Response PpApprove(Ctx& ctx, const http::Request& req);

/// The order as PayPal's API shows it; `base` is paysim's own URL for the links.
/// `base`: the API's links (self, capture); `web_base`: the buyer's approval link ("" = base).
/// `refunds`: the capture's refunds, listed as PayPal's order does (payments.refunds[]).
std::string PpOrderJson(const pp_store::Order& o, const std::string& base, const std::string& web_base = "",
                        const std::vector<pp_store::Refund>& refunds = {});
/// The merchant (client id) of the request's Bearer token, or nullopt with `err` PayPal's 401.
std::optional<std::string> PpBearer(Ctx& ctx, const http::Request& req, http::Response& err);
/// PayPal's error answer {"name","message","details":[{"issue"}]}.
http::Response PpError(int status, const std::string& name, const std::string& issue,
                       const std::string& message);
/// paysim's URL as the caller reached it (scheme and Host), for links.
std::string PpBase(const http::Request& req);
/// APPROVED -> COMPLETED with a capture of `status` (COMPLETED, PENDING, DECLINED).
std::optional<pp_store::Order> PpCapture(Ctx& ctx, const std::string& id, const std::string& status,
                                         const std::string& request_id);

}  // namespace orderpay::sim

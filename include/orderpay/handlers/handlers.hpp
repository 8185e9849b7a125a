// The endpoint handlers, one per file under src/handlers/, and the dispatcher that routes to them.
#pragma once

#include <string>
#include <vector>

#include "orderpay/app/context.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

http::Response Buy(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response Pay(app::Context& ctx, app::Call& call, const http::Request& req);
/// pay/qr: the current slip's QR code as SVG.
http::Response Qr(app::Context& ctx, app::Call& call, const http::Request& req);
/// pay/re_<provider>: the provider's notification (and browser return, where it has one).
http::Response Notify(app::Context& ctx, app::Call& call, const http::Request& req,
                      const providers::Provider& p);

/// POST /api/{site}/admin/refund (operator, API key): refunds all or part of a paid order.
http::Response AdminRefund(app::Context& ctx, app::Call& call, const http::Request& req);
/// GET /api/{site}/admin/order?id= (operator, API key): any order of the site, with its refunds.
http::Response AdminOrder(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response AdminOrders(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response Products(app::Context& ctx, app::Call& call, const http::Request& req);
/// POST /api/{site}/admin/ship, admin/done (operator, API key): an order of goods OK -> SP, SP -> DN.
http::Response AdminShip(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response AdminDone(app::Context& ctx, app::Call& call, const http::Request& req);

/// POST /api/{site}/admin/ticket (a shop's login server, API key): a buyer ticket for an account of
/// the site's account store, creating the account (or changing its given fields) first.
http::Response AdminTicket(app::Context& ctx, app::Call& call, const http::Request& req);
/// POST /api/{site}/admin/ticket_revoke (API key): ends one ticket, or every ticket of an account.
http::Response AdminTicketRevoke(app::Context& ctx, app::Call& call, const http::Request& req);

/// GET /metrics: every worker's counters in the Prometheus text format (core/metrics.hpp). nginx
/// exposes it to an allowlist only; 404 when the process mapped no metrics region.
http::Response Metrics(const http::Request& req);

/// Routes /api/{site}/pay/{action}, /api/{site}/admin/{action} (and /healthz, /metrics): 404/405,
/// site lookup, ticket or API key check, then the
/// handler; database outages become 503 and anything unexpected 500. pay/re_<id> is a route for
/// every provider in the registry, served by Notify.
http::Response Dispatch(app::Context& ctx, const http::Request& req);

/// "pay/buy", "admin/order", ...: the area/action of every route in Dispatch's table (pay/re_<id>
/// comes from the provider registry instead), so the metrics labels can be checked against it.
std::vector<std::string> RouteNames();

}  // namespace orderpay::handlers

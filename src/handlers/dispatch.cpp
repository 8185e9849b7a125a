// The route table and the checks every authenticated route shares.
#include <array>

#include "orderpay/core/log.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/router.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::handlers {

namespace {

using Handler = http::Response (*)(app::Context&, app::Call&, const http::Request&);
using http::Method;

struct Route {
    std::string_view action;
    unsigned methods;
    bool needs_ticket;
    Handler fn;
    // When this says yes for a request, the handler resolves site and ticket itself, in the
    // one statement it needs anyway (pay/check, pay/qr, pay/buy); dispatch only checks the site id.
    bool (*resolves_itself)(const http::Request&) = nullptr;
};

bool Always(const http::Request&) {
    return true;
}
// An order id that cannot exist is answered without touching the orders (the ordinary path).
bool OrderIdCanExist(const http::Request& req) {
    return domain::IsOrderId(req.Arg("id").value_or(""));
}

constexpr std::array kRoutes = {
    Route{"buy", unsigned(Method::kPost), true, &Buy, &Always},
    Route{"check", unsigned(Method::kGet), true, &Check, &OrderIdCanExist},
    Route{"check_order", unsigned(Method::kGet), true, &Check, &OrderIdCanExist},
    Route{"pay", unsigned(Method::kGet), true, &Pay},
    Route{"qr", unsigned(Method::kGet), true, &Qr, &OrderIdCanExist},
};

// pay/re_<id> for every registered provider, with the methods it takes.
http::Response RouteNotification(app::Context& ctx, const http::Request& req, const http::RouteMatch& m,
                                 const providers::Provider& p) {
    if (!p.AcceptsMethod(req.method)) {
        http::Response r = http::Fail(http::Err::kMethodNotAllowed);
        r.headers.emplace_back("Allow", p.AcceptsMethod("GET") ? "GET, POST" : "POST");
        return r;
    }
    // The site is checked by the statement that stores the notification (no row: 404).
    if (!http::ValidSiteId(m.site)) return http::Fail(http::Err::kNoSuchSite);
    app::Call call;
    call.site.id = m.site;
    return Notify(ctx, call, req, p);
}

http::Response Route_(app::Context& ctx, const http::Request& req) {
    if (!http::IsText(req.path)) return http::Fail(http::Err::kBadEncoding);
    if (req.path == "/healthz") {
        if (!(http::MethodBit(req.method) & unsigned(Method::kGet)))
            return http::MethodNotAllowed(unsigned(Method::kGet));
        bool db_ok = ctx.db().Ensure();
        if (!db_ok) return http::Fail(http::Err::kDbUnavailable);
        return http::Ok("{\"db\":\"ok\"}");
    }
    if (req.path == "/metrics") return Metrics(req);
    http::RouteMatch m;
    if (!http::MatchApiPath(req.path, m)) return http::Fail(http::Err::kNoSuchApi);
    const Route* route = nullptr;
    for (const Route& r : kRoutes)
        if (r.action == m.action) route = &r;
    if (!route && m.action.starts_with("re_")) {
        if (const providers::Provider* p = ctx.ProviderFor(m.action.substr(3))) {
            log::SetProvider(p->Id());
            return RouteNotification(ctx, req, m, *p);
        }
    }
    if (!route) return http::Fail(http::Err::kNoSuchApi);
    if (!(route->methods & http::MethodBit(req.method))) return http::MethodNotAllowed(route->methods);
    if (!req.query_ok) return http::Fail(http::Err::kBadQuery);
    // The buyer API (the ticket routes) takes text only; a notification's query is the provider's.
    if (route->needs_ticket && !req.QueryIsText()) return http::Fail(http::Err::kBadEncoding);

    // The order a check/pay is about, for the log lines (json format); only an id that can be one.
    if (std::optional<std::string> id = req.Arg("id"); id && domain::IsOrderId(*id)) log::SetOrder(*id);
    app::Call call;
    if (route->resolves_itself && http::ValidSiteId(m.site) && route->resolves_itself(req)) {
        call.site.id = m.site;
        return route->fn(ctx, call, req);
    }
    std::optional<store::Site> site =
        http::ValidSiteId(m.site) ? store::FindSite(ctx.db(), m.site) : std::nullopt;
    if (!site) return http::Fail(http::Err::kNoSuchSite);
    call.site = std::move(*site);
    if (route->needs_ticket) {
        if (!call.site.account_store) return http::Fail(http::Err::kNilAccounts);
        std::optional<std::string> ticket = req.Arg("ticket");
        if (!ticket || ticket->empty()) return http::Fail(http::Err::kNoLogin, "ticket missing");
        call.buyer = store::FindSession(ctx.db(), *ticket);
        if (!call.buyer) return http::Fail(http::Err::kNoLogin, "ticket unknown or expired");
        // A valid ticket of another shop's account store names nobody this site knows.
        if (call.buyer->store_id != *call.site.account_store) return http::Fail(http::Err::kNilBuyer);
    }
    return route->fn(ctx, call, req);
}

}  // namespace

http::Response Dispatch(app::Context& ctx, const http::Request& req) {
    ctx.db().TakeSucceeded();
    auto run = [&] {
        http::Response r = Route_(ctx, req);
        ctx.db().ResetTransaction();
        return r;
    };
    try {
        try {
            return run();
        } catch (const db::Unavailable& e) {
            // The connection died while this worker was idle (a database restart): the first
            // statement never ran, so reconnecting and running the request again is safe.
            if (ctx.db().TakeSucceeded() != 0) throw;
            log::Info("database connection lost while idle (", e.what(), "); reconnecting");
            return run();
        }
    } catch (const db::Unavailable& e) {
        log::Warn("503: ", e.what());
        return http::Fail(http::Err::kDbUnavailable);
    } catch (const std::exception& e) {
        log::Error("500 on ", req.method, " ", req.path, ": ", e.what());
        try {
            ctx.db().ResetTransaction();
        } catch (...) {
        }
        return http::Fail(http::Err::kInternal);
    }
}

}  // namespace orderpay::handlers

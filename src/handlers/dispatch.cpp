// The route table and the checks every authenticated route shares.
#include <array>

#include "orderpay/core/log.hpp"
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
};

constexpr std::array kRoutes = {
    Route{"buy", unsigned(Method::kPost), true, &Buy},
    Route{"check", unsigned(Method::kGet), true, &Check},
    Route{"check_order", unsigned(Method::kGet), true, &Check},
    Route{"pay", unsigned(Method::kGet), true, &Pay},
    Route{"re_wx", unsigned(Method::kPost), false, &ReWx},
    Route{"re_zfb", Method::kGet | Method::kPost, false, &ReZfb},
};

http::Response Route_(app::Context& ctx, const http::Request& req) {
    if (!http::IsText(req.path)) return http::Fail(http::Err::kBadEncoding);
    if (req.path == "/healthz") {
        if (!(http::MethodBit(req.method) & unsigned(Method::kGet)))
            return http::MethodNotAllowed(unsigned(Method::kGet));
        bool db_ok = ctx.db().Ensure();
        if (!db_ok) return http::Fail(http::Err::kDbUnavailable);
        return http::Ok("{\"db\":\"ok\"}");
    }
    http::RouteMatch m;
    if (!http::MatchApiPath(req.path, m)) return http::Fail(http::Err::kNoSuchApi);
    const Route* route = nullptr;
    for (const Route& r : kRoutes)
        if (r.action == m.action) route = &r;
    if (!route) return http::Fail(http::Err::kNoSuchApi);
    if (!(route->methods & http::MethodBit(req.method))) return http::MethodNotAllowed(route->methods);
    if (!req.query_ok) return http::Fail(http::Err::kBadQuery);
    // The buyer API (the ticket routes) takes text only; a notification's query is the provider's.
    if (route->needs_ticket && !req.QueryIsText()) return http::Fail(http::Err::kBadEncoding);

    app::Call call;
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

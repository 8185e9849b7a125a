// The route table and the checks every authenticated route shares.
#include <array>
#include <cctype>

#include "orderpay/core/log.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/router.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/refunds.hpp"
#include "orderpay/store/retry.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::handlers {

namespace {

using Handler = http::Response (*)(app::Context&, app::Call&, const http::Request&);
using http::Method;

// Who may call a route: a buyer (ticket in the query), an operator (the site's API key in
// Authorization: Bearer), or anyone (the site's catalogue). A buyer ticket never opens an
// operator route.
enum class Auth { kTicket, kApiKey, kAnyone };

struct Route {
    std::string_view area;  // "pay" or "admin"
    std::string_view action;
    unsigned methods;
    Auth auth;
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
    Route{"pay", "buy", unsigned(Method::kPost), Auth::kTicket, &Buy, &Always},
    Route{"pay", "check", http::kRead, Auth::kTicket, &Check, &OrderIdCanExist},
    Route{"pay", "check_order", http::kRead, Auth::kTicket, &Check, &OrderIdCanExist},
    Route{"pay", "pay", unsigned(Method::kGet), Auth::kTicket, &Pay},
    Route{"pay", "qr", http::kRead, Auth::kTicket, &Qr, &OrderIdCanExist},
    Route{"pay", "products", http::kRead, Auth::kAnyone, &Products},
    Route{"admin", "refund", unsigned(Method::kPost), Auth::kApiKey, &AdminRefund},
    Route{"admin", "order", http::kRead, Auth::kApiKey, &AdminOrder},
    Route{"admin", "orders", http::kRead, Auth::kApiKey, &AdminOrders},
    Route{"admin", "ticket", unsigned(Method::kPost), Auth::kApiKey, &AdminTicket},
    Route{"admin", "ticket_revoke", unsigned(Method::kPost), Auth::kApiKey, &AdminTicketRevoke},
    Route{"admin", "ship", unsigned(Method::kPost), Auth::kApiKey, &AdminShip},
    Route{"admin", "done", unsigned(Method::kPost), Auth::kApiKey, &AdminDone},
};

// "Bearer <key>" (the scheme in any letter case, RFC 9110), or "" when the header is absent or
// another scheme. Its length is nginx's to bound (a header line over 8k is refused there).
std::string BearerToken(const http::Request& req) {
    std::string h = req.Header("HTTP_AUTHORIZATION").value_or("");
    if (h.size() < 7) return "";
    for (std::size_t i = 0; i < 6; ++i)
        if (std::tolower(static_cast<unsigned char>(h[i])) != "bearer"[i]) return "";
    if (h[6] != ' ') return "";
    std::size_t start = h.find_first_not_of(' ', 6);
    return start == std::string::npos ? "" : h.substr(start);
}

// The operator API's key check: 401 without a key or with one we did not issue (or revoked),
// 403 for another site's key. Nothing is read from the query string: a ticket never counts.
constexpr std::size_t kMaxApiKeyBytes = 256;

std::optional<http::Response> CheckApiKey(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::string key = BearerToken(req);
    auto unauthorized = [](http::Err e) {
        http::Response r = http::Fail(e);
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"orderpay admin\"");
        return r;
    };
    if (key.empty()) return unauthorized(http::Err::kNoApiKey);
    // Longer than any key orderpay issues: a bad key, not a missing one (review s32-110 I2), and
    // not worth a lookup.
    if (key.size() > kMaxApiKeyBytes) return unauthorized(http::Err::kBadApiKey);
    std::optional<store::ApiKey> k = store::FindApiKey(ctx.db(), key);
    if (!k || k->revoked) return unauthorized(http::Err::kBadApiKey);
    if (k->site_id != call.site.id) return http::Fail(http::Err::kForbidden);
    call.api_key_id = k->id;
    log::Info("admin ", req.method, " ", req.path, " by key ", k->id);
    return std::nullopt;
}

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
        if (!(http::MethodBit(req.method) & http::kRead)) return http::MethodNotAllowed(http::kRead);
        if (!ctx.db().Ensure()) return http::Fail(http::Err::kDbUnavailable);
        store::Ping(ctx.db());  // db::Unavailable: retried once on a fresh connection, then 503
        return http::Ok("{\"db\":\"ok\"}");
    }
    if (req.path == "/metrics") return Metrics(req);
    http::RouteMatch m;
    if (!http::MatchApiPath(req.path, m)) return http::Fail(http::Err::kNoSuchApi);
    const Route* route = nullptr;
    for (const Route& r : kRoutes)
        if (r.area == m.area && r.action == m.action) route = &r;
    if (!route && m.area == "pay" && m.action.starts_with("re_")) {
        if (const providers::Provider* p = ctx.ProviderFor(m.action.substr(3))) {
            log::SetProvider(p->Id());
            return RouteNotification(ctx, req, m, *p);
        }
    }
    if (!route) return http::Fail(http::Err::kNoSuchApi);
    if (!(route->methods & http::MethodBit(req.method))) return http::MethodNotAllowed(route->methods);
    // An argument given twice ("id=A&id=B", "i%64=A&id=B") or without a name is refused, naming
    // it: read first-wins, a cache or a log in front of us could have taken the other copy.
    if (!req.query_ok || !req.query_error.empty()) return http::Fail(http::Err::kBadQuery, req.query_error);
    // The buyer and operator APIs take text only; a notification's query is the provider's.
    if (!req.QueryIsText()) return http::Fail(http::Err::kBadEncoding);

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
    if (route->auth == Auth::kApiKey) {
        if (std::optional<http::Response> denied = CheckApiKey(ctx, call, req)) return *denied;
    } else if (route->auth == Auth::kTicket) {
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

std::vector<std::string> RouteNames() {
    std::vector<std::string> out;
    for (const Route& r : kRoutes) out.push_back(std::string(r.area) + "/" + std::string(r.action));
    return out;
}

http::Response Dispatch(app::Context& ctx, const http::Request& req) {
    try {
        return ctx.db().RunRetryingIdleLoss([&] {
            http::Response r = Route_(ctx, req);
            ctx.db().ResetTransaction();
            return r;
        });
    } catch (const db::Unavailable& e) {
        log::Warn("503: ", e.what());
        return http::Fail(http::Err::kDbUnavailable);
    } catch (const std::exception& e) {
        try {
            ctx.db().ResetTransaction();
        } catch (...) {
        }
        // db.lock_timeout_ms / db.statement_timeout_ms: another session held what this needed.
        if (const auto* dbe = dynamic_cast<const db::Error*>(&e); dbe && store::IsTimeout(*dbe)) {
            log::Warn("503 on ", req.method, " ", req.path, ": ", e.what());
            return http::Fail(http::Err::kDbBusy);
        }
        log::Error("500 on ", req.method, " ", req.path, ": ", e.what());
        return http::Fail(http::Err::kInternal);
    }
}

}  // namespace orderpay::handlers

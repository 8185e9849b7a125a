// pay/re_<provider>: one handler for every provider's notification. The request is stored raw
// first (with the slip and merchant it names, in one statement), then evaluated and decided by
// app/notify, and answered with the provider's own reply
// bytes, whatever happened, so a provider never sees our JSON or a bare 5xx page.
#include "orderpay/app/notify.hpp"

#include <map>

#include "orderpay/app/order_view.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::handlers {

namespace {

http::Response ToResponse(const providers::ProviderReply& r) {
    http::Response out;
    out.status = r.status;
    out.content_type = r.content_type;
    out.body = r.body;
    return out;
}

bool WantsJson(const http::Request& req) {
    std::optional<std::string> accept = req.Header("HTTP_ACCEPT");
    return accept && accept->find("application/json") != std::string::npos;
}

// A browser return (Alipay's return URL, PayPal's return) goes back to the shop: redirected
// (302) to the site's return page with the order id appended when it has one and the client
// did not ask for JSON, else answered as JSON with what it proved, the order id and the order,
// so the page can go on to pay/check. Whatever the provider answered while completing it (a
// capture still unknown), the buyer is sent on: pay/check resolves the rest. A return is no
// proof of who sends it (PayPal's is unsigned, and both ride in URLs a browser keeps and passes
// on), so the order comes without the buyer's own fields (and note): the page has its ticket for those
// (review s25-attack #4).
http::Response BrowserReturn(app::Context& ctx, const app::Call& call, const http::Request& req,
                             const app::Handled& h) {
    const bool proved = h.ev.notice.parsed && h.ev.signature_ok && h.ev.business_ok && h.ev.slip;
    if (!proved) {
        if (h.decision.answer == providers::NotifyAnswer::kError) return http::Fail(http::Err::kInternal);
        return http::Fail(http::Err::kBadRequest, "return parameters do not verify: " + h.ev.reason);
    }
    const std::string& order_id = h.ev.slip->order_id;
    std::optional<std::string> page = store::SiteReturnUrl(ctx.db(), call.site.id);
    if (page && !WantsJson(req)) {
        http::Response r;
        r.status = 302;
        r.content_type = "text/plain";
        r.headers.emplace_back(
            "Location", *page + (page->find('?') == std::string::npos ? "?" : "&") + "order_id=" + order_id);
        r.body = "see " + r.headers.back().second;
        return r;
    }
    std::string order;
    if (!app::LoadOrder(ctx.db(), call.site.id, order_id, &order, app::Audience::kReturn)) order = "null";
    // What we found of the payment (our capture's answer, or the slip as it is) over what an
    // unsigned return claims; a decision that failed found nothing.
    const std::string status = !h.decision.found_status.empty() ? h.decision.found_status
                               : h.decision.verdict == "error"  ? "UNKNOWN"
                                                                : h.ev.event.status;
    // `verified` says a signature was checked: Alipay's return carries one; PayPal's carries none,
    // and what it names is vouched for only by trade_status, our own capture's word (review
    // s28b-attack #3: it said true for any PayPal return).
    const char* verified = h.ev.notice.signed_message ? "true" : "false";
    return http::Ok(std::string("{\"verified\":") + verified + ",\"order_id\":" + http::JsonString(order_id) +
                    ",\"trade_status\":" + http::JsonString(status) + ",\"order\":" + order + "}");
}

// What of a request is stored with it: every header but the caller's credentials. A buyer's
// browser sends the shop's cookies (its login session) on a return to the shop's own host, and
// no provider signs with a cookie or an Authorization header; the inbox is read by operators and
// kept for days (review s27: a return's row held the shop's session cookie).
std::map<std::string, std::string> StoredHeaders(const http::Request& req) {
    std::map<std::string, std::string> out = req.headers;
    for (const char* secret : {"HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION"})
        out.erase(secret);
    return out;
}

}  // namespace

http::Response Notify(app::Context& ctx, app::Call& call, const http::Request& req,
                      const providers::Provider& p) {
    // A return is a GET, whose body no provider sends and nothing reads: refused before it is
    // stored, so it is not up to 64 KiB of a stranger's bytes in the inbox (review s27-attack #2).
    if (req.method == "GET" && !req.body.empty())
        return http::Fail(http::Err::kBadRequest, "a GET carries no body here");
    // A return's arguments are read by name (PayPal's token) or verified as a set (Alipay's):
    // one given twice could be verified as one copy and used as the other. Refused unstored.
    if (req.method == "GET" && (!req.query_ok || !req.query_error.empty()))
        return http::Fail(http::Err::kBadQuery, req.query_error);
    providers::RawNotification raw{req.method, req.content_type, StoredHeaders(req), req.query_string,
                                   req.body};
    app::Incoming in = app::HandleIncoming(ctx.db(), p, call.site.id, req.remote_addr, raw);
    if (!in.site_found) return http::Fail(http::Err::kNoSuchSite);
    const app::Handled& h = in.handled;
    if (in.stored && !h.ev.notice.may_settle) return BrowserReturn(ctx, call, req, h);
    return ToResponse(p.NotificationReplyFor(h.decision.answer, raw));
}

}  // namespace orderpay::handlers

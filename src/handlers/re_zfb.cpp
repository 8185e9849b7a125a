// pay/re_zfb: Alipay's asynchronous notification (POST form) and the buyer's return URL (GET).
// Both are stored and verified the same way; only the notification can settle anything.
#include "orderpay/app/inbox.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::handlers {

namespace {

// Exactly the 7 bytes "success": anything else makes Alipay retry for 25 hours (§2.6).
http::Response ZfbReply(bool ok) {
    http::Response r;
    r.content_type = "text/plain";
    r.body = ok ? "success" : "fail";
    return r;
}

// The return URL is a browser redirect: anyone can forge or replay it, so it never settles.
// It answers what it proved, and the order id so the page can go on to pay/check.
http::Response ReturnUrl(app::Context& ctx, app::Call& call, const http::Request& req) {
    app::Inbox inbox(ctx.db(), "zfb", call.site.id, req, req.query_string);
    app::NotifyEval ev = app::EvaluateZfbNotification(ctx.db(), call.site.id, req.query_string);
    bool ok = ev.signature_ok && ev.business_ok;
    inbox.Verdict(ok ? "ignored" : "rejected", std::string("return url (never settles): ") + ev.reason, ev);
    if (!ok) return http::Fail(http::Err::kBadRequest, "return parameters do not verify: " + ev.reason);
    return http::Ok("{\"verified\":true,\"order_id\":" + http::JsonString(ev.slip->order_id) +
                    ",\"trade_status\":" + http::JsonString(ev.event.status) + "}");
}

}  // namespace

http::Response ReZfb(app::Context& ctx, app::Call& call, const http::Request& req) {
    if (req.method != "POST") return ReturnUrl(ctx, call, req);
    db::Connection& db = ctx.db();
    app::Inbox inbox(db, "zfb", call.site.id, req);
    app::NotifyEval ev = app::EvaluateZfbNotification(db, call.site.id, req.body);
    if (!ev.signature_ok || !ev.business_ok) {
        inbox.Verdict("rejected", ev.reason, ev);
        return ZfbReply(false);
    }
    if (!ev.event.paid) {
        // TRADE_CLOSED ends an unpaid slip; WAIT_BUYER_PAY changes nothing. Both are answered
        // "success" so Alipay stops repeating them.
        if (ev.event.status == "TRADE_CLOSED") {
            db::Result r = db.Exec(store::kSlipFail, {ev.slip->id, "provider: TRADE_CLOSED"});
            inbox.Verdict("ignored", r.Affected() ? "trade closed: slip failed" : "trade closed", ev);
        } else {
            inbox.Verdict("ignored", "not paid: " + ev.event.status, ev);
        }
        return ZfbReply(true);
    }
    return ZfbReply(app::SettleAndRecord(db, inbox, ev));
}

}  // namespace orderpay::handlers

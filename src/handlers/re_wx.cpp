// pay/re_wx: the WeChat Pay v2 notification. Stored raw first, then evaluated (signature,
// merchant, amount, currency, status), then settled; answered with the exact XML WeChat expects.
#include "orderpay/app/inbox.hpp"
#include "orderpay/handlers/handlers.hpp"

namespace orderpay::handlers {

namespace {

// Exactly these bytes: anything around the XML makes WeChat retry forever (PROTOCOLS.md §1.5).
http::Response WxReply(bool ok, const std::string& msg) {
    http::Response r;
    r.content_type = "text/xml";
    r.body = "<xml><return_code><![CDATA[" + std::string(ok ? "SUCCESS" : "FAIL") +
             "]]></return_code><return_msg><![CDATA[" + msg + "]]></return_msg></xml>";
    return r;
}

}  // namespace

http::Response ReWx(app::Context& ctx, app::Call& call, const http::Request& req) {
    db::Connection& db = ctx.db();
    app::Inbox inbox(db, "wx", call.site.id, req);
    app::NotifyEval ev = app::EvaluateWxNotification(db, call.site.id, req.body);
    if (!ev.signature_ok) {
        inbox.Verdict("rejected", ev.reason, ev);
        return WxReply(false, ev.parsed ? "签名失败" : "报文格式错误");
    }
    if (!ev.business_ok) {
        inbox.Verdict("rejected", ev.reason, ev);
        return WxReply(false, "参数错误");
    }
    if (!ev.event.paid) {
        // A signed "payment failed" notice: acknowledged so WeChat stops; nothing to settle.
        inbox.Verdict("ignored", "not a success notification: " + ev.event.status, ev);
        return WxReply(true, "OK");
    }
    bool ok = app::SettleAndRecord(db, inbox, ev);
    return WxReply(ok, ok ? "OK" : "参数错误");
}

}  // namespace orderpay::handlers

// pay/re_wx: the WeChat Pay v2 notification. Stored raw first, then evaluated (signature,
// merchant, amount, currency, status), then settled; answered with the exact XML WeChat expects.
#include "orderpay/app/notify_eval.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/settle.hpp"
#include "orderpay/store/statements.hpp"

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

std::string HeadersJson(const http::Request& req) {
    std::string out = "{\"CONTENT_TYPE\":" + http::JsonString(req.content_type);
    for (const auto& [k, v] : req.headers) out += "," + http::JsonString(k) + ":" + http::JsonString(v);
    return out + "}";
}

}  // namespace

http::Response ReWx(app::Context& ctx, app::Call& call, const http::Request& req) {
    db::Connection& db = ctx.db();
    db::Result ins = db.Exec(store::kNotifyInsert, {"wx", call.site.id, req.remote_addr, HeadersJson(req),
                                                    crypto::HexLower(req.body)});
    const std::string inbox_id = ins.Get(0, 0);
    auto verdict = [&](const char* v, const std::string& reason, const std::string& slip) {
        db.Exec(store::kNotifyVerdict,
                {inbox_id, v, reason, slip.empty() ? db::Param(std::nullopt) : db::Param(slip)});
    };

    app::NotifyEval ev = app::EvaluateWxNotification(db, call.site.id, req.body);
    std::string slip_id = ev.slip ? ev.slip->id : "";
    if (!ev.signature_ok) {
        verdict("rejected", ev.reason, slip_id);
        log::Warn("re_wx rejected: ", ev.reason);
        return WxReply(false, ev.parsed ? "签名失败" : "报文格式错误");
    }
    if (!ev.event.paid) {
        // A signed "payment failed" notice: acknowledged so WeChat stops; nothing to settle.
        verdict("ignored", "not a success notification: " + ev.event.status, slip_id);
        return WxReply(true, "OK");
    }
    if (!ev.business_ok) {
        verdict("rejected", ev.reason, slip_id);
        log::Warn("re_wx rejected: ", ev.reason);
        return WxReply(false, "参数错误");
    }
    std::string detail;
    store::SettleOutcome o = store::Settle(db, ev.event, detail);
    switch (o) {
        case store::SettleOutcome::kSettled:
        case store::SettleOutcome::kLateSettled:
        case store::SettleOutcome::kRefundFlagged:
            verdict("settled", std::string(store::ToString(o)) + ": " + detail, slip_id);
            return WxReply(true, "OK");
        case store::SettleOutcome::kDuplicate:
            verdict("duplicate", detail, slip_id);
            return WxReply(true, "OK");
        case store::SettleOutcome::kNoSlip:
        case store::SettleOutcome::kMismatch:
            break;
    }
    verdict("rejected", detail, slip_id);
    return WxReply(false, "参数错误");
}

}  // namespace orderpay::handlers

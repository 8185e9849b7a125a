// pay/re_<provider>: one handler for every provider's notification. The request is stored raw
// first, then evaluated and decided by app/notify, and answered with the provider's own reply
// bytes, whatever happened, so a provider never sees our JSON or a bare 5xx page.
#include "orderpay/app/notify.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/notifications.hpp"

namespace orderpay::handlers {

namespace {

http::Response ToResponse(const providers::ProviderReply& r) {
    http::Response out;
    out.status = r.status;
    out.content_type = r.content_type;
    out.body = r.body;
    return out;
}

// A browser return (Alipay's return URL) is answered to the page, as JSON: what it proved and
// the order id, so the page can go on to pay/check.
http::Response BrowserReturn(const app::Handled& h) {
    if (h.decision.answer == providers::NotifyAnswer::kError) return http::Fail(http::Err::kInternal);
    if (h.decision.answer != providers::NotifyAnswer::kAccepted)
        return http::Fail(http::Err::kBadRequest, "return parameters do not verify: " + h.ev.reason);
    return http::Ok("{\"verified\":true,\"order_id\":" + http::JsonString(h.ev.slip->order_id) +
                    ",\"trade_status\":" + http::JsonString(h.ev.event.status) + "}");
}

}  // namespace

http::Response Notify(app::Context& ctx, app::Call& call, const http::Request& req,
                      const providers::Provider& p) {
    providers::RawNotification raw{req.method, req.content_type, req.headers, req.query_string, req.body};
    std::string row;
    try {
        row = store::RecordNotification(ctx.db(), std::string(p.Id()), call.site.id, req.remote_addr, raw,
                                        log::RequestId());
    } catch (const std::exception& e) {
        // Not stored, so not acted on: the provider must send it again.
        log::Error("notification for ", call.site.id, " (", p.Id(), ") not stored: ", e.what());
        return ToResponse(p.NotificationReply(providers::NotifyAnswer::kError));
    }
    app::Handled h = app::HandleStored(ctx.db(), p, call.site.id, row, raw);
    if (!h.ev.notice.may_settle) return BrowserReturn(h);
    return ToResponse(p.NotificationReply(h.decision.answer));
}

}  // namespace orderpay::handlers

// pay/check (alias check_order): the caller's order and its payment state, in one database round
// trip (site, session, order, items and slip in one statement). A waiting slip not asked about
// recently is queried, so a lost notification never leaves a paid order unpaid; only then does
// the order cost more queries (the claim, then the provider call and the order read again). A
// slip still NEW is sent if its sender died, never queried (unless a scan, whose provider call
// is the payment).
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/app/resend.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/own_order.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::handlers {

http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req) {
    auto own = LoadOwnOrder(ctx, call, req);
    if (auto* refused = std::get_if<http::Response>(&own)) return std::move(*refused);
    store::CheckView& v = std::get<store::CheckView>(own);
    if (domain::IsPayable(v.order->or_st) && v.slip && v.slip->st == domain::SlipState::kNew) {
        // Its buy may have died before sending it; polling is then what gets it sent. The check
        // view leaves the buyer's openid out (wx.jsapi needs it): read only on this rare path.
        std::optional<store::Buyer> b = store::FindSession(ctx.db(), req.Arg("ticket").value_or(""));
        app::PayInputs in{b ? b->openid : std::string(), "", req.remote_addr};
        if (std::optional<app::Resent> r = app::ResendUnsent(ctx, *v.order, *v.slip, in))
            return http::Ok(r->order_json);
        // Not sent here. Its code, link or prepay id reaches a buyer only after the slip is WAIT,
        // so unless the provider call itself takes the money (a scan), nothing can have paid it:
        // asking tells nothing new, and beside a resend that won the claim and asks before
        // sending, it would be a second query within query_min_interval_ms.
        std::optional<app::PayType> pt = app::ParsePayType(v.slip->pay_tp);
        if (!pt || pt->kind != providers::PayKind::kScan)
            return http::Ok(app::RenderOrder(*v.order, v.items, v.slip));
    }
    // The view's last-asked time lets a poll within query_min_interval_ms skip the claim.
    if (domain::IsPayable(v.order->or_st) && v.slip &&
        app::RefreshSlip(ctx, *v.slip, app::QueryPace::kRateLimited, v.slip_queried_ago_ms)) {
        // Only a provider answer can have changed the order: read and render it again just then.
        std::string json;
        if (app::LoadOrder(ctx.db(), call.site.id, v.order->id, &json)) return http::Ok(json);
    }
    return http::Ok(app::RenderOrder(*v.order, v.items, v.slip));
}

}  // namespace orderpay::handlers

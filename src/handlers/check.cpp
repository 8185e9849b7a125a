// pay/check (alias check_order): the caller's order and its payment state, in one database round
// trip (site, session, order, items and slip in one statement). A waiting slip not asked about
// recently is queried, so a lost notification never leaves a paid order unpaid; only then does
// the order cost more queries.
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/own_order.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req) {
    auto own = LoadOwnOrder(ctx, call, req);
    if (auto* refused = std::get_if<http::Response>(&own)) return std::move(*refused);
    store::CheckView& v = std::get<store::CheckView>(own);
    if (domain::IsPayable(v.order->or_st) && v.slip && app::RefreshSlip(ctx, *v.slip)) {
        // Only a provider answer can have changed the order: read and render it again just then.
        std::string json;
        if (app::LoadOrder(ctx.db(), call.site.id, v.order->id, &json)) return http::Ok(json);
    }
    return http::Ok(app::RenderOrder(*v.order, v.items, v.slip));
}

}  // namespace orderpay::handlers

// pay/check (alias check_order): the caller's order and its payment state. A waiting slip not
// asked about recently is queried, so a lost notification never leaves a paid order unpaid.
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::optional<std::string> id = req.Arg("id");
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    if (id->size() > 32) return http::Fail(http::Err::kNoSuchObject);
    std::string json;
    std::optional<store::OrderRecord> order = app::LoadOrder(ctx.db(), call.site.id, *id, &json);
    // Someone else's order is answered exactly like a missing one: never reveal it exists.
    if (!order || order->buyer_id != call.buyer->account_id || order->buyer_store != call.buyer->store_id)
        return http::Fail(http::Err::kNoSuchObject);
    if (domain::IsPayable(order->or_st)) {
        std::optional<store::SlipRow> slip = app::CurrentSlip(ctx.db(), *order);
        // Only a provider answer can have changed the order: render again just then.
        if (slip && app::RefreshSlip(ctx, *slip)) app::LoadOrder(ctx.db(), call.site.id, *id, &json);
    }
    return http::Ok(json);
}

}  // namespace orderpay::handlers

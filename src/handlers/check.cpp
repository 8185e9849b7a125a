// pay/check (alias check_order): the caller's order and its payment state. A waiting slip not
// asked about recently is queried, so a lost notification never leaves a paid order unpaid.
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::optional<std::string> id = req.Arg("id");
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    if (!domain::IsOrderId(*id)) return http::Fail(http::Err::kNoSuchObject);  // cannot exist: no query
    std::string json;
    std::optional<app::OrderRow> order = app::LoadOrder(ctx.db(), call.site.id, *id, &json);
    // Someone else's order is answered exactly like a missing one: never reveal it exists.
    if (!order || order->buyer_id != call.buyer->account_id || order->buyer_store != call.buyer->store_id)
        return http::Fail(http::Err::kNoSuchObject);
    if (order->or_st == "NW" || order->or_st == "WT") {
        std::optional<store::SlipRow> slip =
            order->pay_id ? store::FindSlip(ctx.db(), *order->pay_id) : store::LiveSlip(ctx.db(), order->id);
        // Only a provider answer can have changed the order: render again just then.
        if (slip && app::RefreshSlip(ctx, *slip)) app::LoadOrder(ctx.db(), call.site.id, *id, &json);
    }
    return http::Ok(json);
}

}  // namespace orderpay::handlers

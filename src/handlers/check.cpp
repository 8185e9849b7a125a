// pay/check (alias check_order): the caller's order and its payment state, in one database round
// trip (site, session, order, items and slip in one statement). A waiting slip not asked about
// recently is queried, so a lost notification never leaves a paid order unpaid; only then does
// the order cost more queries.
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/check_view.hpp"

namespace orderpay::handlers {

http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::optional<std::string> ticket = req.Arg("ticket");
    std::optional<std::string> id = req.Arg("id");
    if (call.buyer) {
        // Dispatch resolved site and ticket the ordinary way: the id is missing or cannot exist.
        if (!id || id->empty()) return http::Fail(http::Err::kNilId);
        return http::Fail(http::Err::kNoSuchObject);  // cannot exist: no query
    }
    store::CheckView v = store::LoadCheckView(ctx.db(), call.site.id, ticket.value_or(""), id.value_or(""));
    // The same answers, in the same order, as every other authenticated route (dispatch.cpp).
    if (!v.site_found) return http::Fail(http::Err::kNoSuchSite);
    if (!v.account_store) return http::Fail(http::Err::kNilAccounts);
    if (!ticket || ticket->empty()) return http::Fail(http::Err::kNoLogin, "ticket missing");
    if (!v.buyer) return http::Fail(http::Err::kNoLogin, "ticket unknown or expired");
    if (v.buyer->store_id != *v.account_store) return http::Fail(http::Err::kNilBuyer);
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    // Someone else's order is answered exactly like a missing one: never reveal it exists.
    if (!v.order) return http::Fail(http::Err::kNoSuchObject);
    if (domain::IsPayable(v.order->or_st) && v.slip && app::RefreshSlip(ctx, *v.slip)) {
        // Only a provider answer can have changed the order: read and render it again just then.
        std::string json;
        if (app::LoadOrder(ctx.db(), call.site.id, *id, &json)) return http::Ok(json);
    }
    return http::Ok(app::RenderOrder(*v.order, v.items, v.slip));
}

}  // namespace orderpay::handlers

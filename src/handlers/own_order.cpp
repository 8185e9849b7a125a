// pay/check's and pay/qr's shared first step (handlers/own_order.hpp).
#include "orderpay/handlers/own_order.hpp"

namespace orderpay::handlers {

std::variant<store::CheckView, http::Response> LoadOwnOrder(app::Context& ctx, const app::Call& call,
                                                            const http::Request& req) {
    std::optional<std::string> ticket = req.Arg("ticket");
    std::optional<std::string> id = req.Arg("id");
    if (call.buyer) {
        // Dispatch resolved site and ticket the ordinary way: the id is missing or cannot exist.
        if (!id || id->empty()) return http::Fail(http::Err::kNilId);
        return http::Fail(http::Err::kNoSuchObject);  // cannot exist: no query
    }
    store::CheckView v = store::LoadCheckView(ctx.db(), call.site.id, ticket.value_or(""), id.value_or(""));
    if (!v.site_found) return http::Fail(http::Err::kNoSuchSite);
    if (!v.account_store) return http::Fail(http::Err::kNilAccounts);
    if (!ticket || ticket->empty()) return http::Fail(http::Err::kNoLogin, "ticket missing");
    if (!v.buyer) return http::Fail(http::Err::kNoLogin, "ticket unknown or expired");
    if (v.buyer->store_id != *v.account_store) return http::Fail(http::Err::kNilBuyer);
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    if (!v.order) return http::Fail(http::Err::kNoSuchObject);
    return v;
}

}  // namespace orderpay::handlers

// GET /api/{site}/admin/order?id= (operators, API key): any order of the site, whoever bought it,
// with what was refunded and every refund. Read only: the provider is not asked.
#include "orderpay/app/order_view.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/query_names.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

http::Response AdminOrder(app::Context& ctx, app::Call& call, const http::Request& req) {
    if (auto bad = RefuseUnknownArgs(req, {"id"})) return std::move(*bad);
    std::optional<std::string> id = req.Arg("id");
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    if (!domain::IsOrderId(*id)) return http::Fail(http::Err::kNoSuchObject);
    std::string json;
    if (!app::LoadOrder(ctx.db(), call.site.id, *id, &json, app::Audience::kOperator))
        return http::Fail(http::Err::kNoSuchObject);
    return http::Ok(json);
}

}  // namespace orderpay::handlers

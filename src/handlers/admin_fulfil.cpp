// POST /api/{site}/admin/ship and admin/done (operators, API key), body {"order":"ID"}: an order
// of goods shipped (OK -> SP) or done (SP -> DN), as `orderpay order ship|done`. Replies the
// order as admin/order does, with "changed" and the CLI's line in "msg": a repeat (the order is
// there already) is 200 too, so a back office can retry after a timeout, and "changed":false
// tells it another call got there first. Any other state is 409 e.www.order.state naming it.
#include "orderpay/app/fulfil.hpp"
#include "orderpay/app/order_view.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/json_body.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::handlers {

namespace {

// A few short fields; the same bound as admin/refund's.
constexpr std::size_t kMaxFulfilBody = 4096;

http::Response Step(app::Context& ctx, app::Call& call, const http::Request& req, store::FulfilStep step) {
    if (req.body.size() > kMaxFulfilBody)
        return http::Fail(http::Err::kTooLarge, "a ship or done request is at most 4096 bytes");
    rapidjson::Document doc;
    if (auto bad = http::ParseJsonObjectBody(req, doc)) return *bad;
    // There is nowhere to keep a carrier or tracking number: refused, not dropped unseen.
    if (auto bad = http::RefuseUnknownFields(doc, {"order"})) return *bad;
    auto it = doc.FindMember("order");
    if (it == doc.MemberEnd() || it->value.IsNull()) return http::Fail(http::Err::kNilId, "order is missing");
    if (!it->value.IsString()) return http::Fail(http::Err::kInvalidField, "order must be a string");
    const std::string id(it->value.GetString(), it->value.GetStringLength());
    // An empty field is a missing one, as admin/order's "id=" is: not an order that does not exist.
    if (id.empty()) return http::Fail(http::Err::kNilId, "order is missing");
    if (!domain::IsOrderId(id)) return http::Fail(http::Err::kNoSuchObject);

    const app::FulfilAnswer a = app::Fulfil(ctx.db(), call.site.id, id, step);
    if (a.outcome == app::FulfilOutcome::kNoOrder) return http::Fail(http::Err::kNoSuchObject);
    std::string json;
    if (!app::LoadOrder(ctx.db(), call.site.id, id, &json, app::Audience::kOperator))
        return http::Fail(http::Err::kNoSuchObject);
    if (a.outcome == app::FulfilOutcome::kRefused)
        return http::Fail(http::Err::kOrderState, a.message, "{\"order\":" + json + "}");
    // The envelope's data stays the order exactly as admin/order's; what this call did goes beside
    // it, as msg goes beside an error's data.
    const bool changed = a.outcome == app::FulfilOutcome::kMoved;
    http::Response ok = http::Ok(json);
    ok.body = std::string("{\"ok\":true,\"changed\":") + (changed ? "true" : "false") +
              ",\"msg\":" + http::JsonString(a.message) + ",\"data\":" + json + "}";
    return ok;
}

}  // namespace

http::Response AdminShip(app::Context& ctx, app::Call& call, const http::Request& req) {
    return Step(ctx, call, req, store::FulfilStep::kShip);
}

http::Response AdminDone(app::Context& ctx, app::Call& call, const http::Request& req) {
    return Step(ctx, call, req, store::FulfilStep::kDone);
}

}  // namespace orderpay::handlers

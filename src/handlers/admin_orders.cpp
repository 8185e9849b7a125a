// GET /api/{site}/admin/orders?state=OK[&after=CURSOR][&limit=20] (operators, API key): the
// site's orders in one state, oldest first, a page at a time, each as admin/order answers it. How a
// back office finds the paid orders it must ship without the operator CLI on the database host
// (review s28-newuser #2): the buyer's browser, not the shop's server, learns an order's id.
#include "orderpay/app/order_view.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/orders_page.hpp"

namespace orderpay::handlers {

namespace {

constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 100;  // each order is one more statement

// The cursor is the last order of a page: "<ct in microseconds>.<order id>".
std::string Cursor(const store::OrderPageRow& row) {
    return std::to_string(row.ct_us) + "." + row.id;
}

}  // namespace

http::Response AdminOrders(app::Context& ctx, app::Call& call, const http::Request& req) {
    const std::string state = req.Arg("state").value_or("");
    if (state.empty())
        return http::Fail(http::Err::kBadQuery, "state is required: one of NW WT OK FA SP DN RF");
    if (!domain::ParseOrderState(state))
        return http::Fail(http::Err::kBadQuery, "state must be one of NW WT OK FA SP DN RF");
    int limit = kDefaultLimit;
    if (std::optional<std::string> l = req.Arg("limit")) {
        std::optional<std::int64_t> v = domain::ParseDigits(*l, 3);
        if (!v || *v < 1 || *v > kMaxLimit)
            return http::Fail(http::Err::kBadQuery, "limit must be a whole number from 1 to 100");
        limit = static_cast<int>(*v);
    }
    std::int64_t after_us = 0;
    std::string after_id;
    if (std::optional<std::string> a = req.Arg("after")) {
        const std::size_t dot = a->find('.');
        std::optional<std::int64_t> us =
            dot == std::string::npos ? std::nullopt : domain::ParseDigits(a->substr(0, dot), 18);
        after_id = dot == std::string::npos ? "" : a->substr(dot + 1);
        if (!us || !domain::IsOrderId(after_id))
            return http::Fail(http::Err::kBadQuery, "after must be the next cursor of the page before");
        after_us = *us;
    }
    std::vector<store::OrderPageRow> rows =
        store::OrdersPage(ctx.db(), call.site.id, state, after_us, after_id, limit);
    std::string out = "{\"orders\":[";
    std::size_t shown = 0;
    for (const store::OrderPageRow& row : rows) {
        std::string json;
        // Gone between the two statements only if deleted, which orderpay never does.
        if (!app::LoadOrder(ctx.db(), call.site.id, row.id, &json)) continue;
        if (shown++) out += ',';
        out += json;
    }
    out += "],\"next\":";
    out +=
        static_cast<int>(rows.size()) == limit ? http::JsonString(Cursor(rows.back())) : std::string("null");
    out += '}';
    return http::Ok(out);
}

}  // namespace orderpay::handlers

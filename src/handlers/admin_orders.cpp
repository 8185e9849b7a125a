// GET /api/{site}/admin/orders?state=OK[&after=CURSOR][&limit=20] (operators, API key): the
// site's orders in one state, oldest first, a page at a time, each as admin/order answers it. How a
// back office finds the paid orders it must ship without the operator CLI on the database host
// (review s28-newuser #2): the buyer's browser, not the shop's server, learns an order's id.
// With refund_needed=1 (state then optional), only the orders holding a late or double payment
// not yet given back: otherwise found only by paging through every order of every state.
#include "orderpay/app/order_view.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/handlers/page_limit.hpp"
#include "orderpay/handlers/query_names.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/orders_page.hpp"

namespace orderpay::handlers {

namespace {

constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 100;

// The cursor is the last order of a page: "<ct in microseconds>.<order id>".
std::string Cursor(const store::OrderPageEntry& e) {
    return std::to_string(e.ct_us) + "." + e.view.order.id;
}

}  // namespace

http::Response AdminOrders(app::Context& ctx, app::Call& call, const http::Request& req) {
    if (auto bad = RefuseUnknownArgs(req, {"state", "refund_needed", "after", "limit"}))
        return std::move(*bad);
    // refund_needed=1: only the orders holding money owed back, in any state unless one is given
    // (held money sits on FA, OK, RF... orders alike). Only `1`: an empty or `0` read as "no
    // filter" would hand a back office every order of the state as if each held money.
    const std::optional<std::string> held = req.Arg("refund_needed");
    if (held && *held != "1")
        return http::Fail(http::Err::kBadQuery,
                          "refund_needed must be 1 (the orders holding money owed back) or left out");
    const std::optional<std::string> state = req.Arg("state");
    if (!state && !held)
        return http::Fail(http::Err::kBadQuery,
                          "state is required (or refund_needed=1): one of NW WT OK FA SP DN RF");
    if (state && !domain::ParseOrderState(*state))
        return http::Fail(http::Err::kBadQuery, "state must be one of NW WT OK FA SP DN RF");
    std::variant<int, http::Response> asked = PageLimit(req, kDefaultLimit, kMaxLimit);
    if (http::Response* bad = std::get_if<http::Response>(&asked)) return std::move(*bad);
    const int limit = std::get<int>(asked);
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
    std::vector<store::OrderPageEntry> page = store::OrdersPage(ctx.db(), call.site.id, state.value_or(""),
                                                                held.has_value(), after_us, after_id, limit);
    std::string out = "{\"orders\":[";
    for (std::size_t i = 0; i < page.size(); ++i) {
        if (i) out += ',';
        out += app::RenderOrder(page[i].view.order, page[i].view.items, page[i].view.slip,
                                app::Audience::kOperator);
    }
    out += "],\"next\":";
    out +=
        static_cast<int>(page.size()) == limit ? http::JsonString(Cursor(page.back())) : std::string("null");
    out += '}';
    return http::Ok(out);
}

}  // namespace orderpay::handlers

// The back office's pages of orders (statements orders_page, orders_held_page): each order read as order_view
// reads one, so admin/orders and admin/order answer the same JSON.
#include "orderpay/store/orders_page.hpp"

#include "orderpay/store/statements.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

std::vector<OrderPageEntry> OrdersPage(db::Connection& c, const std::string& site, const std::string& state,
                                       bool held_only, std::int64_t after_us, const std::string& after_id,
                                       int limit) {
    const std::optional<std::string> st = state.empty() ? std::nullopt : std::optional<std::string>(state);
    db::Result r =
        held_only ? c.Exec(kOrdersHeldPage, {site, st, after_us, after_id, static_cast<std::int64_t>(limit)})
                  : c.Exec(kOrdersPage, {site, state, after_us, after_id, static_cast<std::int64_t>(limit)});
    std::vector<OrderPageEntry> out;
    // The rows come ordered by order, then line: an order's rows are the run sharing its id.
    for (int begin = 0, end = 0; begin < r.Rows(); begin = end) {
        const std::string id = r.Get(begin, "id");
        for (end = begin + 1; end < r.Rows() && r.Get(end, "id") == id;) ++end;
        OrderPageEntry& e = out.emplace_back();
        e.ct_us = r.GetInt(begin, "ct_us");
        OrderParts(r, begin, end, e.view.order, e.view.items, e.view.slip);
    }
    return out;
}

}  // namespace orderpay::store

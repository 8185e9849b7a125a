// The back office's pages of orders (statement orders_page): ids and cursors only; each order is
// then read as admin/order reads it, so both answer the same JSON.
#include "orderpay/store/orders_page.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

std::vector<OrderPageRow> OrdersPage(db::Connection& c, const std::string& site, const std::string& state,
                                     std::int64_t after_us, const std::string& after_id, int limit) {
    db::Result r = c.Exec(kOrdersPage, {site, state, after_us, after_id, static_cast<std::int64_t>(limit)});
    std::vector<OrderPageRow> out;
    out.reserve(static_cast<std::size_t>(r.Rows()));
    for (int i = 0; i < r.Rows(); ++i) out.push_back({r.Get(i, "id"), r.GetInt(i, "ct_us")});
    return out;
}

}  // namespace orderpay::store

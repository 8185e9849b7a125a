// The back office's list of a site's orders in one state, or of those holding money owed back
// (admin/orders), a page at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/check_view.hpp"

namespace orderpay::store {

struct OrderPageEntry {
    OrderView view;
    std::int64_t ct_us = 0;  // its creation, in microseconds since the epoch: the page's cursor
};

/// Up to `limit` of the site's orders in state `state`, oldest first, created after (`after_us`,
/// `after_id`) ((0, "") for the first page), each with its lines and current slip; one statement.
/// `held_only`: only the orders holding money owed back (a refund_needed slip not all refunded
/// OK), in any state when `state` is empty.
std::vector<OrderPageEntry> OrdersPage(db::Connection& c, const std::string& site, const std::string& state,
                                       bool held_only, std::int64_t after_us, const std::string& after_id,
                                       int limit);

}  // namespace orderpay::store

// Typed rows from result columns, shared by the store's lookups (private to src/store).
#pragma once

#include <string>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

/// The slip in `row`; its columns are named `prefix` + the pay_slips column ("s_id" ...).
SlipRow SlipFrom(const db::Result& r, int row, const std::string& prefix = "");
/// The order in `row` (ORDER_COLS names).
OrderRecord OrderFrom(const db::Result& r, int row);

}  // namespace orderpay::store

// Typed rows from result columns, shared by the store's lookups (private to src/store).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

/// The slip in `row`; its columns are named `prefix` + the pay_slips column ("s_id" ...).
SlipRow SlipFrom(const db::Result& r, int row, const std::string& prefix = "");
/// The order in `row` (ORDER_COLS names).
OrderRecord OrderFrom(const db::Result& r, int row);
/// One order from rows [begin, end) of ORDER_COLS + ITEM_COLS + PREFIXED_SLIP_COLS (one row per
/// line, at least one): the order and slip from the first, a line from each that has one.
void OrderParts(const db::Result& r, int begin, int end, OrderRecord& order, std::vector<OrderItem>& items,
                std::optional<SlipRow>& slip);

/// A PostgreSQL array literal ({"a","b"}) for a text[] parameter; every element quoted, so any
/// text (commas, braces, quotes, backslashes, NULL spelt as a word) arrives unchanged.
std::string TextArray(const std::vector<std::string>& items);
/// {1,2,3} for a bigint[] parameter.
std::string IntArray(const std::vector<std::int64_t>& items);

}  // namespace orderpay::store

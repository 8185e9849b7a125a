// Typed rows from result columns, shared by the store's lookups (private to src/store).
#pragma once

#include <cstdint>
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

/// A PostgreSQL array literal ({"a","b"}) for a text[] parameter; every element quoted, so any
/// text (commas, braces, quotes, backslashes, NULL spelt as a word) arrives unchanged.
std::string TextArray(const std::vector<std::string>& items);
/// {1,2,3} for a bigint[] parameter.
std::string IntArray(const std::vector<std::int64_t>& items);

}  // namespace orderpay::store

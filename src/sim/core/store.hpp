// What paysim's two stores (wxpay/store, alipay/store) share: the statements a worker prepares,
// and the small row readers and parameter encoders both use.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::store {

/// Every statement paysim prepares on a worker's one connection: WeChat's and Alipay's.
std::span<const db::Statement> Statements();

/// A text[] literal ("{A,B}") for `= ANY ($n::text[])`. The items are paysim's own state
/// constants, so nothing needs quoting.
std::string TextArray(std::initializer_list<std::string_view> items);

/// The first row of `r` as `read` makes it; nullopt when there is none.
template <class Row>
std::optional<Row> First(const db::Result& r, Row (*read)(const db::Result&, int)) {
    if (r.Rows() == 0) return std::nullopt;
    return read(r, 0);
}

/// Every row of `r` as `read` makes it.
template <class Row>
std::vector<Row> All(const db::Result& r, Row (*read)(const db::Result&, int)) {
    std::vector<Row> out;
    out.reserve(static_cast<std::size_t>(r.Rows()));
    for (int i = 0; i < r.Rows(); ++i) out.push_back(read(r, i));
    return out;
}

/// An integer column that may be NULL (a timestamp not reached yet).
std::optional<std::int64_t> OptInt(const db::Result& r, int row, const char* col);

}  // namespace orderpay::sim::store

// What paysim's stores share: the statements a worker prepares, the small row readers and
// parameter encoders, and the refund bookkeeping of PayPal's and WeChat v3's refunds.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::sim::store {

/// Every statement paysim prepares on a worker's one connection: every provider's.
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

/// How recording a refund ended: made now, made before under the same request id, refused
/// because the live refunds would exceed what was paid, or refused because nothing is paid.
enum class Made { kMade, kExisting, kExceeded, kNoTrade };

/// The refund bookkeeping PayPal's and WeChat v3's refunds share, in one transaction: `lock`
/// locks the paid row and gives the most its refunds may add up to (nullopt: no paid row);
/// `insert(most)` records the refund unless the live refunds would then exceed `most`; failing
/// that, `existing()` is the refund made before under the same request id (its call counted).
/// The row lock makes concurrent refunds of one payment be judged one after the other, and the
/// sum read by `insert` (a later statement, READ COMMITTED) sees every refund committed before.
/// `out` is the refund made or found.
template <class Row>
Made RecordRefund(db::Connection& c, Row& out, const std::function<std::optional<std::int64_t>()>& lock,
                  const std::function<std::optional<Row>(std::int64_t)>& insert,
                  const std::function<std::optional<Row>()>& existing) {
    db::Tx tx(c);
    Made made = Made::kMade;
    if (std::optional<std::int64_t> most = lock(); !most) {
        made = Made::kNoTrade;
    } else if (std::optional<Row> f = insert(*most)) {
        out = std::move(*f);
    } else if (std::optional<Row> e = existing()) {
        out = std::move(*e);
        made = Made::kExisting;
    } else {
        made = Made::kExceeded;
    }
    tx.Commit();
    return made;
}

/// An integer column that may be NULL (a timestamp not reached yet).
std::optional<std::int64_t> OptInt(const db::Result& r, int row, const char* col);

}  // namespace orderpay::sim::store

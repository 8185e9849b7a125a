// Order views in one round trip: pay/check's read (site, session, order, items and current slip
// resolved by a single statement, so the commonest request costs one query), and the order as
// it stands after the provider took a slip.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

struct CheckView {
    bool site_found = false;
    std::optional<std::string> account_store;  // of the site
    std::optional<Buyer> buyer;                // the ticket's live session (openid not read)
    // The order, only when it belongs to `buyer` in this site (someone else's reads as absent).
    std::optional<OrderRecord> order;
    std::vector<OrderItem> items;
    std::optional<SlipRow> slip;  // the order's current slip
    // How long ago the slip was last asked about at its provider (by anyone), by the database's
    // clock; nullopt when never (or no slip).
    std::optional<std::int64_t> slip_queried_ago_ms;
};

/// `ticket` may be empty (no session then); `order_id` that cannot exist matches nothing.
CheckView LoadCheckView(db::Connection& c, const std::string& site, const std::string& ticket,
                        const std::string& order_id);

struct OrderView {
    OrderRecord order;
    std::vector<OrderItem> items;
    std::optional<SlipRow> slip;  // the order's current slip
};

/// The order `id` of `site` with its lines and current slip, in one statement.
std::optional<OrderView> LoadOrderView(db::Connection& c, const std::string& site, const std::string& id);

/// The provider took the slip: NEW -> WAIT with what the buyer needs, order NW -> WT while this
/// slip is still its current one. One statement, which answers the order as it is afterwards
/// (read again when the slip had moved on meanwhile).
std::optional<OrderView> MarkWaiting(db::Connection& c, const std::string& site, const std::string& slip_id,
                                     const std::string& order_id, const std::string& re_tp,
                                     const std::string& re_obj, const std::string& note,
                                     const std::string& provider_ref = "");

}  // namespace orderpay::store

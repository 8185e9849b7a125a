// The operator's fulfilment of an order of goods: shipped (OK -> SP, sp_at) and done (SP -> DN,
// dn_at), each one conditional UPDATE, and what the order is when the UPDATE changed nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

// kCloseChargedBack: `order done --charged-back`, OK or SP -> DN of an order whose payment its
// provider took back (a chargeback on record), never shipped by it (sp_at stays as it is).
enum class FulfilStep { kShip, kDone, kCloseChargedBack };

struct FulfilRow {
    bool changed = false;              // this call moved the order
    std::string or_st;                 // the order's state now
    std::string tp;                    // A goods, Q virtual goods
    std::optional<std::int64_t> paid;  // what its paying slip was paid (none: not paid)
    std::int64_t held = 0;             // its refunds that are not FAIL (minor units)
    std::string under_way;             // "ID ST" of a refund still NEW or PROCESSING, or ""
    bool voiding = false;              // a void of its paying slip was sent, and not answered yet
    bool chargeback = false;           // its provider took its payment back (confirmed)
    bool shipped = false;              // sp_at is set: the goods left
};

/// Moves the site's order one step; nullopt when the site has no such order.
std::optional<FulfilRow> FulfilOrder(db::Connection& c, const std::string& site, const std::string& id,
                                     FulfilStep step);

}  // namespace orderpay::store

// Loads an order with its items and current slip, and renders the seed's order JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/orders.hpp"

namespace orderpay::app {

/// Who an order's JSON is for: its buyer (pay/*), an operator (admin/*, the CLI: also
/// chargeback_at, which costs pay/check's statement an inbox read), or whoever sends a browser
/// return (none of the buyer's own fields: buyer_id, note, contact and address).
enum class Audience { kBuyer, kOperator, kReturn };

/// The order `id` of `site`, or nullopt. When `json` is given, it receives the full order JSON
/// (products, money as numbers with the currency's decimals, times in epoch ms, pay_re) for `who`.
std::optional<store::OrderRecord> LoadOrder(db::Connection& c, const std::string& site, const std::string& id,
                                            std::string* json, Audience who = Audience::kBuyer);

/// The order JSON from what the store read, for `who` (pure: no I/O).
std::string RenderOrder(const store::OrderRecord& o, const std::vector<store::OrderItem>& items,
                        const std::optional<store::SlipRow>& slip, Audience who = Audience::kBuyer);

/// A WAIT slip whose code its provider no longer honours, or will not by the time a buyer shown
/// it now could pay (providers::CodeOutlived, its age as the database measured it): the buyer's
/// views show it as a dead code (re_tp NONE, pay/qr noqr) and pay/pay issues a new one (pure).
bool CodeOutlived(const store::SlipRow& slip);

/// Whether a buyer shown the slip's code could still pay with it: not a failed slip, not an
/// unpaid order past its expiry, not an outlived code. The buyer's views show re_tp NONE for a
/// slip without one, and pay/pay keeps a slip only with one, so the two never disagree (pure).
bool CodePayable(const store::SlipRow& slip, bool past_expiry);

/// The order's current slip: the one pay_id names, else the newest not superseded.
std::optional<store::SlipRow> CurrentSlip(db::Connection& c, const store::OrderRecord& o);

}  // namespace orderpay::app

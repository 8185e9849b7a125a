// Loads an order with its items and current slip, and renders the seed's order JSON.
#pragma once

#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::app {

struct OrderRow {
    std::string id, site_id, tp, title, buyer_store, buyer_id, or_st, currency, pay_tp;
    std::optional<std::string> pay_id;
    std::int64_t fee = 0;
    std::int64_t expi_ms = 0;
    bool expired = false;
};

/// The order `id` of `site`, or nullopt. When `json` is given, it receives the full order JSON
/// (products, money as numbers with the currency's decimals, times in epoch ms, pay_re).
std::optional<OrderRow> LoadOrder(db::Connection& c, const std::string& site, const std::string& id,
                                  std::string* json);

}  // namespace orderpay::app

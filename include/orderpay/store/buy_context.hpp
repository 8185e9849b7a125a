// pay/buy's reads in one round trip: site, session, seller, the requested products and an
// earlier order under the same Idempotency-Key, resolved by a single statement.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::store {

struct BuyContext {
    std::optional<Site> site;
    std::optional<Buyer> buyer;                 // the ticket's live session
    std::optional<providers::Merchant> seller;  // the site's merchant for the prefix
    std::optional<IdemOrder> idem;              // the buyer's order under the key (24 h)
    std::map<std::string, Product> products;    // the active ones among those asked for
};

/// `ticket` may be empty (no session then); `idem_key` empty means none.
BuyContext LoadBuyContext(db::Connection& c, const std::string& site, const std::string& ticket,
                          const std::string& prefix, const std::vector<std::string>& product_ids,
                          const std::string& idem_key);

}  // namespace orderpay::store

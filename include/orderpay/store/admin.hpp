// Operator use cases behind the `orderpay` CLI: shop setup (stores, sites, accounts, tickets,
// products, merchants, sellers) and the listings operators read. Setup commands are upserts so
// setup scripts can be re-run. Listings return rows for the CLI to print as table or JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::store {

/// Adds the store, or changes an existing one's name when `name` is given.
void UpsertAccountStore(db::Connection& c, const std::string& id, const std::optional<std::string>& name);
db::Result ListAccountStores(db::Connection& c);  // id, name
bool StoreExists(db::Connection& c, const std::string& id);

struct SiteSetup {
    std::string id, name;
    std::optional<std::string> account_store;
    std::string currency;
    int expire_minutes = 30;
    std::optional<std::string> return_url;
};
/// False when the site exists already (nothing changed).
bool InsertSite(db::Connection& c, const SiteSetup& s);
struct SiteUpdate {
    bool updated = false;
    bool found = false;               // when not updated: the site exists (a currency was refused)
    std::int64_t other_currency = 0;  // its active products priced in another currency than asked
    std::string example;              // "ID CUR" of one of them
    std::int64_t off_sale = 0;        // updated to another currency: its products in it off sale
    std::string off_sale_ids;         // the first five of them, by id, space-separated
};
/// Changes only the fields given (a return_url of "" removes it), all or nothing: a new currency
/// is refused while the site has active products priced in another (the site's row locked first).
SiteUpdate UpdateSite(db::Connection& c, const std::string& id, const std::optional<std::string>& name,
                      const std::optional<std::string>& account_store,
                      const std::optional<std::string>& currency, const std::optional<int>& expire_minutes,
                      const std::optional<std::string>& return_url);
db::Result ListSites(db::Connection& c);  // id, name, account_store, currency, expire_minutes, return_url
std::optional<std::string> SiteCurrency(db::Connection& c, const std::string& site);

db::Result ListAccounts(db::Connection& c);  // store_id, id, name, wx_openid
/// The account stores holding an account with this id (restricted to `store` when given).
std::vector<std::string> AccountStoresOf(db::Connection& c, const std::string& account,
                                         const std::optional<std::string>& store);

// Products: orderpay/store/products.hpp.

void UpsertMerchant(db::Connection& c, const providers::Merchant& m);
db::Result ListMerchants(db::Connection& c);  // id, provider, app_id, mch_id, sign_type (never the key)

/// False when there is no such site.
bool SetSeller(db::Connection& c, const std::string& site, const std::string& prefix,
               const std::string& merchant);
db::Result ListSellers(db::Connection& c);  // site_id, prefix, merchant_id

/// Newest first. Columns: id, site_id, buyer_id, or_st, fee, currency, pay_tp, ct, chargeback_at,
/// held (what its refund_needed slips hold not yet refunded OK, minor units). `held_only`: only
/// the orders where that is more than 0.
db::Result ListOrders(db::Connection& c, const std::optional<std::string>& site,
                      const std::optional<std::string>& state, bool held_only, int limit);
/// Slips an operator must look at: refund_needed ones not yet refunded (OK refunds short of the
/// amount), ones reported paid for another amount or currency or paid twice (MISMATCH), open
/// ones older than 10 minutes, and failed ones their provider has not confirmed closed after a
/// day. Gathered by index (statement slips_needing_attention).
db::Result SlipsNeedingAttention(
    db::Connection& c);  // id, order_id, site_id, st, amount, currency, kind, note

}  // namespace orderpay::store

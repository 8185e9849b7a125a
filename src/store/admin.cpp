// Operator SQL. Unprepared statements: the CLI runs each once, never on a request path (the
// reconcile attention list is a named statement in statements.cpp, so test_plans can check it).
#include "orderpay/store/admin.hpp"

#include "orderpay/store/statements.hpp"
#include "store/sql_text.hpp"

namespace orderpay::store {

// Running `store add` or `account add` again without a field wiped it (an account's openid, which
// its JSAPI payments need): an add again changes only what it is given (review s25-newuser #5).
// Accounts and tickets are in tickets.cpp: the operator API runs them too.
void UpsertAccountStore(db::Connection& c, const std::string& id, const std::optional<std::string>& name) {
    c.Query(
        "INSERT INTO account_stores (id, name) VALUES ($1, coalesce($2, '')) "
        "ON CONFLICT (id) DO UPDATE SET name = coalesce($2, account_stores.name)",
        {id, name});
}

bool StoreExists(db::Connection& c, const std::string& id) {
    return c.Query("SELECT 1 FROM account_stores WHERE id = $1", {id}).Rows() == 1;
}

db::Result ListAccountStores(db::Connection& c) {
    return c.Query("SELECT id, name FROM account_stores ORDER BY id", {});
}

bool InsertSite(db::Connection& c, const SiteSetup& s) {
    db::Result r = c.Query(
        "INSERT INTO sites (id, name, account_store, currency, expire_minutes, return_url) "
        "VALUES ($1, $2, $3, $4, $5, nullif($6, '')) ON CONFLICT (id) DO NOTHING",
        {s.id, s.name, s.account_store, s.currency, s.expire_minutes, s.return_url});
    return r.Affected() == 1;
}

SiteUpdate UpdateSite(db::Connection& c, const std::string& id, const std::optional<std::string>& name,
                      const std::optional<std::string>& account_store,
                      const std::optional<std::string>& currency, const std::optional<int>& expire_minutes,
                      const std::optional<std::string>& return_url) {
    std::optional<std::string> minutes;
    if (expire_minutes) minutes = std::to_string(*expire_minutes);
    // An order's currency is its products' (review s27-newuser #4): a new currency is refused, in
    // the same statement, while the site sells products priced in another (the site's own currency
    // given again changes nothing, review s27-diff L1). "" clears the return URL.
    // The row is locked first, as `product add` and `product enable` share it before they write a
    // product against its currency: the check below then runs on a snapshot taken after any of
    // them that got there first committed, and any that comes after reads the new currency
    // (helper-72). Without the lock, its UPDATE waited for them on the row but judged their
    // products as they were before.
    db::Tx tx(c);
    db::Result locked = c.Query("SELECT currency FROM sites WHERE id = $1 FOR NO KEY UPDATE", {id});
    db::Result r = c.Query(
        "UPDATE sites SET name = coalesce($2, name), account_store = coalesce($3, account_store), "
        "currency = coalesce($4, currency), expire_minutes = coalesce($5::int, expire_minutes), "
        "return_url = CASE WHEN $6::text IS NULL THEN return_url ELSE nullif($6, '') END WHERE id = $1 "
        "AND ($4::text IS NULL OR $4 = currency OR NOT EXISTS (SELECT 1 FROM products p WHERE p.site_id = $1 "
        "AND p.active "
        "AND p.currency <> $4))",
        {id, name, account_store, currency, minutes, return_url});
    SiteUpdate out;
    out.updated = r.Affected() == 1;
    if (out.updated) {
        // Products re-added in the new currency went off sale (UpsertProduct): name them, as
        // nothing puts them back on sale but `product enable`.
        if (currency && locked.Rows() == 1 && locked.Get(0, 0) != *currency) {
            db::Result off = c.Query(
                "SELECT count(*), string_agg(id, ' ' ORDER BY id) FILTER (WHERE n <= 5) FROM "
                "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM products "
                "WHERE site_id = $1 AND NOT active AND currency = $2) p",
                {id, *currency});
            out.off_sale = std::stoll(off.Get(0, 0));
            out.off_sale_ids = off.GetOpt(0, 1).value_or("");
        }
        tx.Commit();
        return out;
    }
    db::Result why = c.Query(
        "SELECT (SELECT count(*) FROM products p WHERE p.site_id = s.id AND p.active AND p.currency <> $2), "
        "(SELECT p.id || ' ' || p.currency FROM products p WHERE p.site_id = s.id AND p.active "
        "AND p.currency <> $2 ORDER BY p.id LIMIT 1) FROM sites s WHERE s.id = $1",
        {id, currency.value_or("")});
    out.found = why.Rows() == 1;
    if (out.found) {
        out.other_currency = std::stoll(why.Get(0, 0));
        out.example = why.GetOpt(0, 1).value_or("");
    }
    return out;
}

db::Result ListSites(db::Connection& c) {
    return c.Query(
        "SELECT id, name, account_store, currency, expire_minutes, return_url FROM sites ORDER BY id", {});
}

std::optional<std::string> SiteCurrency(db::Connection& c, const std::string& site) {
    db::Result r = c.Query("SELECT currency FROM sites WHERE id = $1", {site});
    if (r.Rows() != 1) return std::nullopt;
    return r.Get(0, 0);
}

db::Result ListAccounts(db::Connection& c) {
    return c.Query("SELECT store_id, id, name, wx_openid FROM accounts ORDER BY store_id, id", {});
}

std::vector<std::string> AccountStoresOf(db::Connection& c, const std::string& account,
                                         const std::optional<std::string>& store) {
    db::Result r =
        c.Query("SELECT store_id FROM accounts WHERE id = $1 AND ($2::text IS NULL OR store_id = $2)",
                {account, store});
    std::vector<std::string> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Get(i, 0));
    return out;
}

void UpsertMerchant(db::Connection& c, const providers::Merchant& m) {
    c.Query(
        "INSERT INTO merchants (id, provider, app_id, mch_id, sign_type, api_key, options) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO UPDATE SET "
        "provider = EXCLUDED.provider, app_id = EXCLUDED.app_id, mch_id = EXCLUDED.mch_id, "
        "sign_type = EXCLUDED.sign_type, api_key = EXCLUDED.api_key, options = EXCLUDED.options",
        {m.id, m.provider, m.app_id, m.mch_id, m.sign_type, m.api_key, m.options});
}

db::Result ListMerchants(db::Connection& c) {
    return c.Query("SELECT id, provider, app_id, mch_id, sign_type FROM merchants ORDER BY id", {});
}

bool SetSeller(db::Connection& c, const std::string& site, const std::string& prefix,
               const std::string& merchant) {
    return c.Query(
                "INSERT INTO site_sellers (site_id, prefix, merchant_id) "
                "SELECT s.id, $2, $3 FROM sites s WHERE s.id = $1 "
                "ON CONFLICT (site_id, prefix) DO UPDATE SET merchant_id = EXCLUDED.merchant_id RETURNING 1",
                {site, prefix, merchant})
               .Rows() == 1;
}

db::Result ListSellers(db::Connection& c) {
    return c.Query("SELECT site_id, prefix, merchant_id FROM site_sellers ORDER BY 1, 2", {});
}

// `held`: what the order's refund_needed slips hold that has not gone back (SLIP_OWES),
// in minor units; computed for the rows shown only (after the sort and LIMIT). `held_only`
// starts from the few held slips (pay_slips_refund, partial on refund_needed) and reads each of
// their orders by its key, not every order.
db::Result ListOrders(db::Connection& c, const std::optional<std::string>& site,
                      const std::optional<std::string>& state, bool held_only, int limit) {
    const std::string from =
        held_only ? "FROM (SELECT DISTINCT s.order_id FROM pay_slips s WHERE "
                    "($1::text IS NULL OR s.site_id = $1) AND " SLIP_OWES("s") ") h "
                    "JOIN orders o ON o.id = h.order_id "
                  : "FROM orders o ";
    return c.Query(
        "SELECT o.id, o.site_id, o.buyer_id, o.or_st, o.fee, o.currency, o.pay_tp, "
        "o.ct, " CHARGEBACK_AT_OF("o") ", (SELECT coalesce(sum(greatest(s.amount - " SLIP_REFUNDED_OK(
            "s") ", 0)), 0) "
                 "FROM pay_slips s WHERE s.order_id = o.id AND " SLIP_OWES("s") ") AS held " +
            from +
            "WHERE ($1::text IS NULL OR o.site_id = $1) AND ($2::text IS NULL OR o.or_st = $2) "
            "ORDER BY o.ct DESC LIMIT $3",
        {site, state, limit});
}

db::Result SlipsNeedingAttention(db::Connection& c) {
    return c.Exec(kSlipsNeedingAttention, {});
}

}  // namespace orderpay::store

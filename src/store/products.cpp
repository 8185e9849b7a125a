// The catalogue's products as the operator CLI changes them. Unprepared statements: the CLI runs
// each once, never on a request path.
#include "orderpay/store/products.hpp"

#include <stdexcept>

namespace orderpay::store {

namespace {

// What orders holding stock took from the product's count: the ledger's stock_initial is what is
// available plus this (the audit's stock_conserved). A line bought while the product was
// uncounted took nothing.
constexpr const char* kHeld =
    "(SELECT coalesce(sum(i.amount), 0) FROM order_items i JOIN orders o ON o.id = i.order_id "
    "WHERE o.site_id = $2 AND i.product_id = $1 AND o.stock_held AND i.stock_taken)";

}  // namespace

ProductUpserted UpsertProduct(db::Connection& c, const ProductSetup& p) {
    // --stock is what is available now; the ledger's total adds what is held.
    // Without it an existing product keeps its count: a price changed by `product add` again
    // made a product of 5 unlimited, and the shop sold 50 (review s25-newuser #1).
    // The product row is locked first, so neither a buy nor a give-back (expiry, a void) can slip
    // between reading the held sum and writing the total; the price read under the lock is the
    // one this call replaces (said to the operator, review s28-newuser #1).
    db::Tx tx(c);
    // The site's row first, shared: `site set --currency` locks it before it looks for products
    // on sale in another currency, so a product is written here either against the currency the
    // site keeps until this commits, or after the change (helper-72's race: each statement read
    // the other's row as it was, and a CNY product went on sale on a site just set to USD).
    ProductUpserted out;
    db::Result site = c.Query("SELECT currency FROM sites WHERE id = $1 FOR SHARE", {p.site});
    if (site.Rows() != 1) throw std::runtime_error("no such site " + p.site);
    out.site_currency = site.Get(0, 0);
    db::Result was = c.Query("SELECT price, currency FROM products WHERE site_id = $1 AND id = $2 FOR UPDATE",
                             {p.site, p.id});
    // An existing product keeps `active` as it keeps its count: a setup script run again must
    // not put back on sale what the operator withdrew (review s27-newuser #8). One priced in
    // another currency than its site's is off sale, new or not: a buy is charged in its products'
    // currency (review s28b-attack #4), and re-adding in the next currency is how a site moves.
    db::Result r = c.Query(
        std::string(
            "INSERT INTO products (id, site_id, title, price, currency, stock, stock_initial, active) "
            "VALUES ($1, $2, $3, $4, $5, $6::bigint, $6::bigint + ") +
            kHeld +
            ", $5 = $8) ON CONFLICT (site_id, id) DO UPDATE SET title = EXCLUDED.title, price = "
            "EXCLUDED.price, "
            "currency = EXCLUDED.currency, active = products.active AND EXCLUDED.active, "
            "stock = CASE WHEN $7::boolean THEN EXCLUDED.stock ELSE products.stock END, "
            "stock_initial = CASE WHEN $7::boolean THEN EXCLUDED.stock_initial ELSE products.stock_initial "
            "END, lm = now() RETURNING active",
        {p.id, p.site, p.title, p.price, p.currency,
         p.stock ? db::Param(std::to_string(*p.stock)) : db::Param(std::nullopt), p.stock_given,
         out.site_currency});
    tx.Commit();
    out.active = r.Get(0, 0) == "t";
    if (was.Rows() == 1) {
        out.price_was = std::stoll(was.Get(0, 0));
        out.currency_was = was.Get(0, 1);
    }
    return out;
}

std::optional<std::string> ProductCurrency(db::Connection& c, const std::string& site,
                                           const std::string& id) {
    db::Result r = c.Query("SELECT currency FROM products WHERE site_id = $1 AND id = $2", {site, id});
    if (r.Rows() != 1) return std::nullopt;
    return r.Get(0, 0);
}

ProductChanged UpdateProduct(db::Connection& c, const ProductChange& p) {
    using Stock = ProductChange::Stock;
    ProductChanged out{ProductChanged::Outcome::kNoProduct, "", 0, 0, std::nullopt, std::nullopt};
    // Locked first for the price and count it replaces, and (an absolute count) so no buy or
    // give-back slips between reading the held sum and writing the total.
    db::Tx tx(c);
    db::Result was =
        c.Query("SELECT price, currency, stock FROM products WHERE site_id = $2 AND id = $1 FOR UPDATE",
                {p.id, p.site});
    if (was.Rows() != 1) return out;
    out.price_was = std::stoll(was.Get(0, 0));
    out.currency = was.Get(0, 1);
    if (std::optional<std::string> s = was.GetOpt(0, 2)) out.stock_was = std::stoll(*s);
    if (out.currency != p.currency) {  // a `product add --currency` between our read and this lock
        out.outcome = ProductChanged::Outcome::kCurrencyMoved;
        return out;
    }
    const char* mode = p.stock_mode == Stock::kKeep  ? "keep"
                       : p.stock_mode == Stock::kSet ? "set"
                       : p.stock_mode == Stock::kAdd ? "add"
                                                     : "unlimited";
    // A relative count is one conditional UPDATE on what is there when it writes (stock = stock +
    // N), never a count read earlier: units buyers took meanwhile stay taken. It adds the same to
    // the ledger's total, so stock_initial = stock + held still holds; it is refused (nothing
    // changed) for a product without a count or a result below 0.
    db::Result r = c.Query(
        std::string("UPDATE products SET title = coalesce($3, title), price = coalesce($4::bigint, price), "
                    "stock = CASE $5::text WHEN 'keep' THEN stock WHEN 'add' THEN stock + $6::bigint "
                    "WHEN 'set' THEN $6::bigint END, "
                    "stock_initial = CASE $5::text WHEN 'keep' THEN stock_initial "
                    "WHEN 'add' THEN stock_initial + $6::bigint WHEN 'set' THEN $6::bigint + ") +
            kHeld +
            " END, lm = now() WHERE site_id = $2 AND id = $1 "
            "AND ($5::text <> 'add' OR (stock IS NOT NULL AND stock + $6::bigint >= 0)) RETURNING price, "
            "stock",
        {p.id, p.site, p.title, p.price ? db::Param(std::to_string(*p.price)) : db::Param(std::nullopt), mode,
         std::to_string(p.stock)});
    if (r.Rows() != 1) {
        out.outcome =
            out.stock_was ? ProductChanged::Outcome::kBelowZero : ProductChanged::Outcome::kUncounted;
        return out;
    }
    tx.Commit();
    out.outcome = ProductChanged::Outcome::kChanged;
    out.price = std::stoll(r.Get(0, 0));
    if (std::optional<std::string> s = r.GetOpt(0, 1)) out.stock = std::stoll(*s);
    return out;
}

ProductActivation SetProductActive(db::Connection& c, const std::string& site, const std::string& id,
                                   bool active) {
    // A buy is charged in its products' currency, not the site's: enabling a product priced in
    // another would bring back the mixed catalogue `site set --currency` refuses (review
    // s28-newuser #6). Checked in the same statement, under the site's row shared as UpsertProduct
    // takes it: a currency change committed meanwhile is either seen here or sees this.
    db::Tx tx(c);
    if (active) c.Query("SELECT 1 FROM sites WHERE id = $1 FOR SHARE", {site});
    db::Result r = c.Query(
        "UPDATE products p SET active = $3, lm = now() WHERE p.site_id = $1 AND p.id = $2 AND p.active <> $3 "
        "AND (NOT $3 OR p.currency = (SELECT s.currency FROM sites s WHERE s.id = $1)) RETURNING 1",
        {site, id, active});
    tx.Commit();
    if (r.Rows() == 1) return {ProductActivation::Outcome::kChanged, "", ""};
    db::Result why = c.Query(
        "SELECT p.active = $3, p.currency, s.currency FROM products p JOIN sites s ON s.id = p.site_id "
        "WHERE p.site_id = $1 AND p.id = $2",
        {site, id, active});
    if (why.Rows() != 1) return {ProductActivation::Outcome::kNoProduct, "", ""};
    if (why.Get(0, 0) == "t") return {ProductActivation::Outcome::kAlready, "", ""};
    return {ProductActivation::Outcome::kOtherCurrency, why.Get(0, 1), why.Get(0, 2)};
}

db::Result ListProducts(db::Connection& c, const std::optional<std::string>& site) {
    return c.Query(
        "SELECT site_id, id, title, price, currency, stock, active FROM products "
        "WHERE $1::text IS NULL OR site_id = $1 ORDER BY site_id, id",
        {site});
}

}  // namespace orderpay::store

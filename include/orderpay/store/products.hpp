// The catalogue's products as the operator CLI changes them: `product add` (again), `product
// set`, `product enable|disable` and `product list`. Unprepared statements (src/store/products.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

struct ProductSetup {
    std::string id, site, title;
    std::int64_t price = 0;
    std::string currency;
    std::optional<std::int64_t> stock;  // nullopt: sold without a count
    bool stock_given = true;            // false: an existing product keeps its count (or none)
};
struct ProductUpserted {
    bool active = true;                     // on sale: never when priced in another currency than its site's
    std::string site_currency;              // the site's, as the product was written against it
    std::optional<std::int64_t> price_was;  // an existing product's price and currency before
    std::string currency_was;
};
/// Adds the product, or changes an existing one's title, price and currency (its count only when
/// stock_given), leaving it active or not as it was; one priced in another currency than its
/// site's is added, or kept, off sale. Throws when the site does not exist.
ProductUpserted UpsertProduct(db::Connection& c, const ProductSetup& p);

/// `product set`: only what is given changes, all or nothing.
struct ProductChange {
    std::string site, id;
    std::string currency;  // the product's, which `price` is in: refused if it changed meanwhile
    std::optional<std::string> title;
    std::optional<std::int64_t> price;
    enum class Stock { kKeep, kSet, kAdd, kUnlimited } stock_mode = Stock::kKeep;
    std::int64_t stock = 0;  // kSet: available now; kAdd: added (negative: taken off)
};
struct ProductChanged {
    enum class Outcome { kChanged, kNoProduct, kCurrencyMoved, kUncounted, kBelowZero } outcome;
    std::string currency;
    std::int64_t price_was = 0, price = 0;
    std::optional<std::int64_t> stock_was, stock;  // nullopt: no count (unlimited)
};
ProductChanged UpdateProduct(db::Connection& c, const ProductChange& p);
/// The product's currency; nullopt when the site has no such product.
std::optional<std::string> ProductCurrency(db::Connection& c, const std::string& site, const std::string& id);

/// Withdraws the product from sale (false) or puts it back (true). Putting it back is refused
/// while it is priced in another currency than its site's (under the site's row, shared).
struct ProductActivation {
    enum class Outcome { kChanged, kAlready, kNoProduct, kOtherCurrency } outcome;
    std::string currency, site_currency;  // kOtherCurrency: the product's and the site's
};
ProductActivation SetProductActive(db::Connection& c, const std::string& site, const std::string& id,
                                   bool active);
db::Result ListProducts(db::Connection& c, const std::optional<std::string>& site);

}  // namespace orderpay::store

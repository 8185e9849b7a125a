// The catalogue a site sells now: its statement products_on_sale (prepared at connect through
// AllStatements) and the call pay/products makes, as pay/buy would price it.
#include "orderpay/store/catalogue.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

// What a site sells now (pay/products), in id order after the last of the page before: what
// pay/buy prices an order from, so a shop's pages show what the buyer will be charged. Never a
// product priced in another currency than its site's, as pay/buy never sells one (a database
// written before `product add` kept such a product off sale may hold one on sale).
const db::Statement kProductsOnSale{"products_on_sale",
                                    "SELECT id, title, price, currency, stock FROM products "
                                    "WHERE site_id = $1 AND active AND id > $2 "
                                    "AND currency = (SELECT currency FROM sites WHERE id = $1) "
                                    "ORDER BY id LIMIT $3"};

std::vector<ProductOnSale> ProductsOnSale(db::Connection& c, const std::string& site,
                                          const std::string& after_id, int limit) {
    db::Result r = c.Exec(kProductsOnSale, {site, after_id, static_cast<std::int64_t>(limit)});
    std::vector<ProductOnSale> out;
    out.reserve(static_cast<std::size_t>(r.Rows()));
    for (int i = 0; i < r.Rows(); ++i) {
        ProductOnSale p{r.Get(i, "id"), r.Get(i, "title"), r.GetInt(i, "price"), r.Get(i, "currency"),
                        std::nullopt};
        if (!r.IsNull(i, r.Col("stock"))) p.stock = r.GetInt(i, "stock");
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace orderpay::store

// The catalogue a site sells now (statement products_on_sale), as pay/buy would price it.
#include "orderpay/store/catalogue.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

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

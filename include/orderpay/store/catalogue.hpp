// The catalogue a site sells now, for its pages (pay/products).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

struct ProductOnSale {
    std::string id;
    std::string title;
    std::int64_t price = 0;  // minor units of `currency`
    std::string currency;
    std::optional<std::int64_t> stock;  // none: not counted
};

/// Up to `limit` of the site's active products, in id order, after `after_id` ("" for the first).
std::vector<ProductOnSale> ProductsOnSale(db::Connection& c, const std::string& site,
                                          const std::string& after_id, int limit);

}  // namespace orderpay::store

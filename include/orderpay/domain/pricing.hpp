// Server-side pricing of an order from the catalog: the client never sends prices.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/domain/money.hpp"

namespace orderpay::domain {

struct LineRequest {
    std::string product_id;
    std::int64_t amount = 1;  // quantity
};

struct CatalogItem {
    std::string id;
    std::string title;
    Minor price = 0;
    std::string currency;
};

struct PricedLine {
    std::string product_id;
    std::string title;
    std::int64_t amount = 0;
    Minor price = 0;
    Minor subtotal = 0;
};

struct PricedOrder {
    std::vector<PricedLine> lines;  // one per distinct product, in first-seen order
    std::int64_t pro_c = 0;         // total quantity
    Minor total = 0;                // sum of subtotals
    Minor freight = 0;
    Minor discount = 0;
    Minor price = 0;  // total + freight - discount
    Minor fee = 0;    // what the buyer is charged (= price)
    std::string currency;
};

enum class PricingError {
    kNoProducts,      // empty list, or no line with amount >= 1
    kBadAmount,       // negative amount, or above kMaxLineAmount
    kUnknownProduct,  // lookup returned nullopt
    kMixedCurrency,   // catalog items in different currencies
    kOverflow,        // arithmetic overflow
    kTooManyLines,    // more than kMaxLines distinct products
};

inline constexpr std::int64_t kMaxLineAmount = 10000;
inline constexpr std::size_t kMaxLines = 100;

struct PricingResult {
    std::optional<PricedOrder> order;
    std::optional<PricingError> error;
    std::string error_product_id;  // the offending product for kUnknownProduct / kBadAmount
};

/// Prices `lines`: lines with amount 0 are dropped, duplicates of one product are merged (amounts
/// summed), each product is looked up once through `lookup`. Pure: no I/O besides `lookup`.
PricingResult Price(const std::vector<LineRequest>& lines,
                    const std::function<std::optional<CatalogItem>(const std::string&)>& lookup);

}  // namespace orderpay::domain

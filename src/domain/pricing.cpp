// Server-side order pricing from catalog prices; quantities come from the client, prices never do.
#include "orderpay/domain/pricing.hpp"

#include <unordered_map>
#include <utility>

namespace orderpay::domain {

namespace {

PricingResult Fail(PricingError error, std::string product_id = {}) {
    PricingResult r;
    r.error = error;
    r.error_product_id = std::move(product_id);
    return r;
}

struct Merged {
    std::string product_id;
    std::int64_t amount = 0;
};

}  // namespace

PricingResult Price(const std::vector<LineRequest>& lines,
                    const std::function<std::optional<CatalogItem>(const std::string&)>& lookup) {
    // Merge first so every product is looked up exactly once and limits apply to the total
    // quantity of a product, not to each of its repeated lines.
    std::vector<Merged> merged;
    std::unordered_map<std::string, std::size_t> index;
    for (const auto& line : lines) {
        if (line.amount < 0 || line.amount > kMaxLineAmount)
            return Fail(PricingError::kBadAmount, line.product_id);
        if (line.amount == 0) continue;
        auto [it, inserted] = index.try_emplace(line.product_id, merged.size());
        if (inserted) {
            if (merged.size() == kMaxLines) return Fail(PricingError::kTooManyLines);
            merged.push_back({line.product_id, 0});
        }
        Merged& m = merged[it->second];
        m.amount += line.amount;  // both terms are <= kMaxLineAmount, so this cannot overflow
        if (m.amount > kMaxLineAmount) return Fail(PricingError::kBadAmount, line.product_id);
    }
    if (merged.empty()) return Fail(PricingError::kNoProducts);

    PricedOrder order;
    order.lines.reserve(merged.size());
    for (const auto& m : merged) {
        std::optional<CatalogItem> item = lookup(m.product_id);
        // A negative price or a currency we cannot charge in makes the product unsellable;
        // that is a catalog fault, reported the same way as a missing product.
        if (!item || item->price < 0 || !CurrencyExponent(item->currency))
            return Fail(PricingError::kUnknownProduct, m.product_id);
        if (order.lines.empty()) {
            order.currency = item->currency;
        } else if (item->currency != order.currency) {
            return Fail(PricingError::kMixedCurrency);
        }

        const auto subtotal = CheckedMul(item->price, m.amount);
        if (!subtotal) return Fail(PricingError::kOverflow);
        const auto total = CheckedAdd(order.total, *subtotal);
        const auto count = CheckedAdd(order.pro_c, m.amount);
        if (!total || !count) return Fail(PricingError::kOverflow);
        order.total = *total;
        order.pro_c = *count;
        order.lines.push_back({m.product_id, std::move(item->title), m.amount, item->price, *subtotal});
    }

    // Freight and discounts are not offered yet; kept explicit so the price formula is checked.
    const auto with_freight = CheckedAdd(order.total, order.freight);
    const auto price = with_freight ? CheckedAdd(*with_freight, -order.discount) : std::nullopt;
    if (!price) return Fail(PricingError::kOverflow);
    order.price = *price;
    order.fee = order.price;

    PricingResult r;
    r.order = std::move(order);
    return r;
}

}  // namespace orderpay::domain

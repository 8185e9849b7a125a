// Unit tests for domain/pricing: merging, limits, catalog faults, overflow and currencies.
#include "orderpay/domain/pricing.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>

namespace orderpay::domain {
namespace {

class PricingTest : public ::testing::Test {
  protected:
    void Add(const std::string& id, Minor price, const std::string& currency = "CNY") {
        catalog_[id] = CatalogItem{id, "title " + id, price, currency};
    }

    PricingResult Run(const std::vector<LineRequest>& lines) {
        return Price(lines, [this](const std::string& id) -> std::optional<CatalogItem> {
            ++lookups_[id];
            auto it = catalog_.find(id);
            if (it == catalog_.end()) return std::nullopt;
            return it->second;
        });
    }

    std::map<std::string, CatalogItem> catalog_;
    std::map<std::string, int> lookups_;
};

TEST_F(PricingTest, SingleLine) {
    Add("p1", 1990);
    const auto r = Run({{"p1", 3}});
    ASSERT_TRUE(r.order) << static_cast<int>(*r.error);
    EXPECT_FALSE(r.error);
    const PricedOrder& o = *r.order;
    ASSERT_EQ(o.lines.size(), 1u);
    EXPECT_EQ(o.lines[0].product_id, "p1");
    EXPECT_EQ(o.lines[0].title, "title p1");
    EXPECT_EQ(o.lines[0].amount, 3);
    EXPECT_EQ(o.lines[0].price, 1990);
    EXPECT_EQ(o.lines[0].subtotal, 5970);
    EXPECT_EQ(o.pro_c, 3);
    EXPECT_EQ(o.total, 5970);
    EXPECT_EQ(o.freight, 0);
    EXPECT_EQ(o.discount, 0);
    EXPECT_EQ(o.price, 5970);
    EXPECT_EQ(o.fee, 5970);
    EXPECT_EQ(o.currency, "CNY");
}

TEST_F(PricingTest, DuplicatesMergedInFirstSeenOrderAndLookedUpOnce) {
    Add("b", 100);
    Add("a", 1);
    const auto r = Run({{"b", 1}, {"a", 2}, {"b", 4}, {"a", 0}, {"b", 0}});
    ASSERT_TRUE(r.order);
    ASSERT_EQ(r.order->lines.size(), 2u);
    EXPECT_EQ(r.order->lines[0].product_id, "b");
    EXPECT_EQ(r.order->lines[0].amount, 5);
    EXPECT_EQ(r.order->lines[0].subtotal, 500);
    EXPECT_EQ(r.order->lines[1].product_id, "a");
    EXPECT_EQ(r.order->lines[1].amount, 2);
    EXPECT_EQ(r.order->pro_c, 7);
    EXPECT_EQ(r.order->total, 502);
    EXPECT_EQ(lookups_["a"], 1);
    EXPECT_EQ(lookups_["b"], 1);
}

TEST_F(PricingTest, ZeroAmountLinesDroppedWithoutLookup) {
    Add("p1", 10);
    const auto r = Run({{"p1", 1}, {"ghost", 0}});
    ASSERT_TRUE(r.order);
    EXPECT_EQ(r.order->lines.size(), 1u);
    EXPECT_EQ(lookups_.count("ghost"), 0u);
}

TEST_F(PricingTest, NoProducts) {
    EXPECT_EQ(Run({}).error, PricingError::kNoProducts);
    EXPECT_EQ(Run({{"p1", 0}, {"p2", 0}}).error, PricingError::kNoProducts);
    EXPECT_FALSE(Run({}).order);
}

TEST_F(PricingTest, NegativeAmount) {
    Add("p1", 10);
    const auto r = Run({{"p1", 2}, {"p1", -1}});
    EXPECT_EQ(r.error, PricingError::kBadAmount);
    EXPECT_EQ(r.error_product_id, "p1");
    EXPECT_FALSE(r.order);
    EXPECT_EQ(Run({{"p1", std::numeric_limits<std::int64_t>::min()}}).error, PricingError::kBadAmount);
}

TEST_F(PricingTest, AmountLimitPerLineAndAfterMerging) {
    Add("p1", 1);
    EXPECT_TRUE(Run({{"p1", kMaxLineAmount}}).order);
    const auto one = Run({{"p1", kMaxLineAmount + 1}});
    EXPECT_EQ(one.error, PricingError::kBadAmount);
    EXPECT_EQ(one.error_product_id, "p1");
    EXPECT_EQ(Run({{"p1", std::numeric_limits<std::int64_t>::max()}}).error, PricingError::kBadAmount);
    const auto merged = Run({{"p1", kMaxLineAmount}, {"p1", 1}});
    EXPECT_EQ(merged.error, PricingError::kBadAmount);
    EXPECT_EQ(merged.error_product_id, "p1");
}

TEST_F(PricingTest, UnknownProduct) {
    Add("p1", 10);
    const auto r = Run({{"p1", 1}, {"nope", 1}});
    EXPECT_EQ(r.error, PricingError::kUnknownProduct);
    EXPECT_EQ(r.error_product_id, "nope");
    EXPECT_FALSE(r.order);
}

TEST_F(PricingTest, UnsellableCatalogItemsReportedAsUnknown) {
    Add("neg", -1);
    Add("xxx", 10, "XXX");
    Add("nocur", 10, "");
    for (const char* id : {"neg", "xxx", "nocur"}) {
        const auto r = Run({{id, 1}});
        EXPECT_EQ(r.error, PricingError::kUnknownProduct) << id;
        EXPECT_EQ(r.error_product_id, id);
    }
}

TEST_F(PricingTest, ZeroPriceProductIsPricedAtZero) {
    Add("free", 0);
    const auto r = Run({{"free", 2}});
    ASSERT_TRUE(r.order);
    EXPECT_EQ(r.order->total, 0);
    EXPECT_EQ(r.order->fee, 0);
    EXPECT_EQ(r.order->pro_c, 2);
}

TEST_F(PricingTest, MixedCurrency) {
    Add("cny", 10, "CNY");
    Add("usd", 10, "USD");
    EXPECT_EQ(Run({{"cny", 1}, {"usd", 1}}).error, PricingError::kMixedCurrency);
    Add("jpy", 10, "JPY");
    const auto r = Run({{"jpy", 1}});
    ASSERT_TRUE(r.order);
    EXPECT_EQ(r.order->currency, "JPY");
}

TEST_F(PricingTest, OverflowInSubtotal) {
    Add("big", std::numeric_limits<Minor>::max() / 2);
    EXPECT_EQ(Run({{"big", 3}}).error, PricingError::kOverflow);
}

TEST_F(PricingTest, OverflowInTotal) {
    Add("a", std::numeric_limits<Minor>::max() - 5);
    Add("b", 10);
    EXPECT_EQ(Run({{"a", 1}, {"b", 1}}).error, PricingError::kOverflow);
    EXPECT_TRUE(Run({{"a", 1}}).order);
}

TEST_F(PricingTest, TooManyDistinctLines) {
    std::vector<LineRequest> lines;
    for (std::size_t i = 0; i < kMaxLines; ++i) {
        Add("p" + std::to_string(i), 1);
        lines.push_back({"p" + std::to_string(i), 1});
    }
    const auto ok = Run(lines);
    ASSERT_TRUE(ok.order);
    EXPECT_EQ(ok.order->lines.size(), kMaxLines);
    EXPECT_EQ(ok.order->total, static_cast<Minor>(kMaxLines));

    // Repeats of known products do not count as new lines.
    lines.push_back({"p0", 1});
    EXPECT_TRUE(Run(lines).order);

    Add("extra", 1);
    lines.push_back({"extra", 1});
    EXPECT_EQ(Run(lines).error, PricingError::kTooManyLines);
}

}  // namespace
}  // namespace orderpay::domain

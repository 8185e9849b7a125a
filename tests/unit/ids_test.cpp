// Unit tests for the order-id shape check that spares pay/check and pay/pay a query.
#include "orderpay/domain/ids.hpp"

#include <gtest/gtest.h>

#include <string>

#include "orderpay/crypto/digest.hpp"

using orderpay::domain::IsOrderId;

TEST(Ids, OrderIdShape) {
    EXPECT_TRUE(IsOrderId("a"));
    EXPECT_TRUE(IsOrderId("72xf0q9z"));
    EXPECT_TRUE(IsOrderId(std::string(32, 'z')));
    EXPECT_TRUE(IsOrderId(orderpay::crypto::RandomId(26)));  // what pay/buy issues
    EXPECT_FALSE(IsOrderId(""));
    EXPECT_FALSE(IsOrderId(std::string(33, 'a')));
    for (const char* bad : {"ABC", "ab-c", "ab_c", "ab c", "ab.c", "ab%00", "ab/c", "é", "abc\n"})
        EXPECT_FALSE(IsOrderId(bad)) << bad;
    EXPECT_FALSE(IsOrderId(std::string("abc\0def", 7)));
}

// admin/ticket checks an account id before it is written, so a bad one is a 400 naming the field,
// not the CHECK constraint's 500; the same shape as accounts.id's CHECK.
TEST(Ids, AccountIdShape) {
    using orderpay::domain::IsAccountId;
    for (const char* good : {"a", "carol", "Carol_01", "c.arol-x", "carol@example.com", "0"})
        EXPECT_TRUE(IsAccountId(good)) << good;
    EXPECT_TRUE(IsAccountId(std::string(64, 'z')));
    EXPECT_FALSE(IsAccountId(""));
    EXPECT_FALSE(IsAccountId(std::string(65, 'a')));
    for (const char* bad : {"ca rol", "carol/x", "carol+1", "é", "carol\n", "ca%rol", "<carol>"})
        EXPECT_FALSE(IsAccountId(bad)) << bad;
    EXPECT_FALSE(IsAccountId(std::string("ab\0c", 4)));
}

// Stores, sites, products and merchants (their CHECKs): the CLI says the rule before PostgreSQL
// says it, and pay/products refuses a cursor that cannot be a product id.
TEST(Ids, SetupIdShape) {
    using orderpay::domain::IsSetupId;
    for (const char* good : {"a", "demo-tea", "Shop_2", "wx.demo", "0"}) EXPECT_TRUE(IsSetupId(good)) << good;
    EXPECT_TRUE(IsSetupId(std::string(64, 'z')));
    EXPECT_FALSE(IsSetupId(""));
    EXPECT_FALSE(IsSetupId(std::string(65, 'a')));
    for (const char* bad : {"a@b", "bad id!", "a/b", "é", "a\n", "a%20"}) EXPECT_FALSE(IsSetupId(bad)) << bad;
    EXPECT_FALSE(IsSetupId(std::string("ab\0c", 4)));
}

// A count in a query string (admin/orders, pay/products limits and cursors): digits only.
TEST(Ids, ParseDigits) {
    using orderpay::domain::ParseDigits;
    EXPECT_EQ(ParseDigits("0", 3), 0);
    EXPECT_EQ(ParseDigits("100", 3), 100);
    EXPECT_EQ(ParseDigits("0005", 4), 5);
    EXPECT_EQ(ParseDigits("999999999999999999", 18), 999999999999999999LL);
    for (const char* bad : {"", "1000", "-1", "+1", " 1", "1 ", "1e2", "0x1", "abc", "1.0"})
        EXPECT_FALSE(ParseDigits(bad, 3).has_value()) << bad;
    EXPECT_FALSE(ParseDigits("1234567890123456789", 19).has_value());  // past what int64 holds safely
}

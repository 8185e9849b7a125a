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

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

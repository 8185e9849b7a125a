// Unit tests for what WeChat Pay v2 and v3 requests write alike: Beijing time and the item text.
#include <gtest/gtest.h>

#include <string>

#include "orderpay/providers/wxpay/common.hpp"

using orderpay::wxpay::BeijingTime;
using orderpay::wxpay::ItemText;

TEST(WxCommon, BeijingTimeIsUtcPlusEight) {
    EXPECT_EQ(BeijingTime(0, "%Y%m%d%H%M%S"), "19700101080000");
    // 2024-02-29 16:30:05 UTC is already 1 March in Beijing.
    EXPECT_EQ(BeijingTime(1709224205, "%Y%m%d%H%M%S"), "20240301003005");
    EXPECT_EQ(BeijingTime(1709224205, "%Y-%m-%dT%H:%M:%S+08:00"), "2024-03-01T00:30:05+08:00");
}

TEST(WxCommon, ItemTextFitsTheLimitAndIsNeverEmpty) {
    EXPECT_EQ(ItemText("", 120), "order");
    EXPECT_EQ(ItemText("绿茶", 120), "绿茶");
    EXPECT_EQ(ItemText(std::string(130, 'a'), 120), std::string(120, 'a'));
    EXPECT_EQ(ItemText("a绿", 3), "a");  // the 3-byte character does not fit: never split
}

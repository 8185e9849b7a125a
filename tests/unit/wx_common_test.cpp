// Unit tests for what WeChat Pay v2 and v3 do alike: Beijing time, the item text, trade_state.
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

TEST(WxCommon, TradeStateReadsV2AndV3Alike) {
    using orderpay::wxpay::TradeState;
    using S = orderpay::providers::QueryResult::State;
    EXPECT_EQ(TradeState("SUCCESS"), S::kPaid);
    EXPECT_EQ(TradeState("REFUND"), S::kPaid);  // paid, then refunded: the money did arrive
    EXPECT_EQ(TradeState("NOTPAY"), S::kNotPaid);
    EXPECT_EQ(TradeState("USERPAYING"), S::kPaying);
    EXPECT_EQ(TradeState("CLOSED"), S::kClosed);
    EXPECT_EQ(TradeState("REVOKED"), S::kClosed);
    EXPECT_EQ(TradeState("PAYERROR"), S::kFailed);
    EXPECT_EQ(TradeState("ACCEPT"), S::kUnknown);  // v3's alone: its reader says paying
    EXPECT_EQ(TradeState("success"), S::kUnknown);
    EXPECT_EQ(TradeState(""), S::kUnknown);
}

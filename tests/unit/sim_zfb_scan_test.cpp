// Unit tests for sim/alipay/scan: the alipay.trade.pay auth_code behaviour table, the slow-scan
// promotion and the cancel that asks to be retried.
#include <gtest/gtest.h>

#include <string>

#include "sim/alipay/scan.hpp"

namespace orderpay::sim {
namespace {

TEST(SimZfbScanTest, PrefixTable) {
    struct Case {
        const char* code;
        ZfbScanKind kind;
        const char* state;
        const char* answer;
        const char* sub_code;
    };
    const Case cases[] = {
        {"280000000000000001", ZfbScanKind::kPaid, "TRADE_SUCCESS", "10000", ""},
        {"281234567890123456", ZfbScanKind::kSlow, "WAIT_BUYER_PAY", "10003", ""},
        {"282000000000000000", ZfbScanKind::kDeclined, "", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"},
        {"283999999999999999", ZfbScanKind::kStuck, "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR"},
        {"284000000000000000", ZfbScanKind::kLostPaid, "TRADE_SUCCESS", "20000", "ACQ.SYSTEM_ERROR"},
        {"285000000000000000", ZfbScanKind::kCancelRetry, "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR"},
        {"286000000000000000", ZfbScanKind::kCancelFails, "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR"},
        {"287000000000000000", ZfbScanKind::kPaidAtCancel, "WAIT_BUYER_PAY", "20000", "ACQ.SYSTEM_ERROR"},
        {"288000000000000000", ZfbScanKind::kInvalid, "", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"},
        {"130000000000000000", ZfbScanKind::kInvalid, "", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"},
    };
    for (const Case& c : cases) {
        const ZfbScanBehaviour& b = ZfbScanFor(c.code);
        EXPECT_EQ(b.kind, c.kind) << c.code;
        EXPECT_EQ(b.state, c.state) << c.code;
        EXPECT_EQ(b.code, c.answer) << c.code;
        EXPECT_EQ(b.sub_code, c.sub_code) << c.code;
        EXPECT_EQ(b.sub_code.empty(), b.sub_msg.empty()) << c.code;
        // A row that creates a trade has a name to store; one that does not has neither.
        EXPECT_EQ(b.name.empty(), b.state.empty()) << c.code;
    }
}

TEST(SimZfbScanTest, SixteenToTwentyFourDigits) {
    EXPECT_EQ(ZfbScanFor("2800000000000000").kind, ZfbScanKind::kPaid);          // 16
    EXPECT_EQ(ZfbScanFor("280000000000000000000000").kind, ZfbScanKind::kPaid);  // 24
    for (const char* bad :
         {"", "280", "280000000000000", "2800000000000000000000000", "28000000000000000a",
          " 280000000000000000", "280000000000000000 ", "２80000000000000000", "280-000000000000000"})
        EXPECT_EQ(ZfbScanFor(bad).kind, ZfbScanKind::kInvalid) << bad;
    EXPECT_EQ(ZfbScanFor(std::string("28000000000000000\0", 18)).kind, ZfbScanKind::kInvalid);
}

TEST(SimZfbScanTest, NamesAreDistinct) {
    // The names go into paysim.zfb_trades.scan; "slow" and "retry" are read by the SQL and cancel.
    EXPECT_EQ(ZfbScanFor("281000000000000000").name, "slow");
    EXPECT_EQ(ZfbScanFor("285000000000000000").name, "retry");
    const char* codes[] = {"280000000000000000", "281000000000000000", "283000000000000000",
                           "284000000000000000", "285000000000000000"};
    for (const char* a : codes)
        for (const char* b : codes) {
            if (std::string(a) != b) {
                EXPECT_NE(ZfbScanFor(a).name, ZfbScanFor(b).name) << a << " " << b;
            }
        }
}

TEST(SimZfbScanTest, SlowScanPaysFromTheThirdQuery) {
    const std::string_view slow = ZfbScanFor("281000000000000000").name;
    EXPECT_EQ(ZfbStateAfterQuery(slow, "WAIT_BUYER_PAY", 1), "WAIT_BUYER_PAY");
    EXPECT_EQ(ZfbStateAfterQuery(slow, "WAIT_BUYER_PAY", 2), "WAIT_BUYER_PAY");
    EXPECT_EQ(ZfbStateAfterQuery(slow, "WAIT_BUYER_PAY", 3), "TRADE_SUCCESS");
    EXPECT_EQ(ZfbStateAfterQuery(slow, "WAIT_BUYER_PAY", 9), "TRADE_SUCCESS");
    EXPECT_EQ(ZfbStateAfterQuery(slow, "TRADE_CLOSED", 5), "TRADE_CLOSED");  // cancelled meanwhile
    // Stuck and retry codes never pay by themselves; a lost payment is paid from the start.
    for (const char* code : {"283000000000000000", "285000000000000000"})
        EXPECT_EQ(ZfbStateAfterQuery(ZfbScanFor(code).name, "WAIT_BUYER_PAY", 100), "WAIT_BUYER_PAY") << code;
    EXPECT_EQ(ZfbStateAfterQuery(ZfbScanFor("284000000000000000").name, "TRADE_SUCCESS", 1), "TRADE_SUCCESS");
}

TEST(SimZfbScanTest, OnlyTheFirstCancelOfAnUnpaidRetryTradeAsksAgain) {
    const std::string_view retry = ZfbScanFor("285000000000000000").name;
    EXPECT_TRUE(ZfbCancelAsksRetry(retry, "WAIT_BUYER_PAY", 1));
    EXPECT_FALSE(ZfbCancelAsksRetry(retry, "WAIT_BUYER_PAY", 2));
    EXPECT_FALSE(ZfbCancelAsksRetry(retry, "TRADE_CLOSED", 1));  // closed meanwhile: nothing to retry
    EXPECT_FALSE(ZfbCancelAsksRetry(retry, "TRADE_SUCCESS", 1));
    EXPECT_FALSE(ZfbCancelAsksRetry(ZfbScanFor("283000000000000000").name, "WAIT_BUYER_PAY", 1));
    EXPECT_FALSE(ZfbCancelAsksRetry("", "NOT_SCANNED", 1));
}

TEST(SimZfbScanTest, CancelFailsOnlyForAnUnpaidCancelFailsTrade) {
    const std::string_view fails = ZfbScanFor("286000000000000000").name;
    EXPECT_TRUE(ZfbCancelFails(fails, "WAIT_BUYER_PAY"));
    EXPECT_FALSE(ZfbCancelFails(fails, "TRADE_SUCCESS"));  // paid meanwhile: the normal refund path
    EXPECT_FALSE(ZfbCancelFails(ZfbScanFor("283000000000000000").name, "WAIT_BUYER_PAY"));
}

TEST(SimZfbScanTest, OnlyAnUnpaidPaidAtCancelTradeIsPaidByItsCancel) {
    const std::string_view late = ZfbScanFor("287000000000000000").name;
    EXPECT_TRUE(ZfbCancelFindsPaid(late, "WAIT_BUYER_PAY"));
    EXPECT_TRUE(ZfbCancelFindsPaid(late, "NOT_SCANNED"));  // a precreated code given the name by a test
    EXPECT_FALSE(ZfbCancelFindsPaid(late, "TRADE_SUCCESS"));
    EXPECT_FALSE(ZfbCancelFindsPaid(late, "TRADE_CLOSED"));  // a second cancel pays nothing again
    EXPECT_FALSE(ZfbCancelFindsPaid(ZfbScanFor("283000000000000000").name, "WAIT_BUYER_PAY"));
}

}  // namespace
}  // namespace orderpay::sim

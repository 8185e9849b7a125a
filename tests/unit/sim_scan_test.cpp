// Unit tests for sim/wxpay/scan: the micropay auth_code behaviour table and the slow-scan promotion.
#include <gtest/gtest.h>

#include <string>

#include "sim/wxpay/scan.hpp"

namespace orderpay::sim {
namespace {

TEST(SimScanTest, PrefixTable) {
    struct Case {
        const char* code;
        ScanKind kind;
        const char* state;
        const char* err_code;
    };
    const Case cases[] = {
        {"130000000000000001", ScanKind::kPaid, "SUCCESS", ""},
        {"131234567890123456", ScanKind::kSlow, "USERPAYING", "USERPAYING"},
        {"132000000000000000", ScanKind::kExpired, "PAYERROR", "AUTHCODEEXPIRE"},
        {"133999999999999999", ScanKind::kSystemError, "SUCCESS", "SYSTEMERROR"},
        {"134000000000000000", ScanKind::kStuck, "USERPAYING", "USERPAYING"},
        {"135000000000000000", ScanKind::kInvalid, "", "AUTH_CODE_INVALID"},
        {"100000000000000000", ScanKind::kInvalid, "", "AUTH_CODE_INVALID"},
    };
    for (const Case& c : cases) {
        const ScanBehaviour& b = ScanFor(c.code);
        EXPECT_EQ(b.kind, c.kind) << c.code;
        EXPECT_EQ(b.state, c.state) << c.code;
        EXPECT_EQ(b.err_code, c.err_code) << c.code;
        EXPECT_EQ(b.err_code.empty(), b.err_code_des.empty()) << c.code;
    }
}

TEST(SimScanTest, OnlyEighteenDigitsCount) {
    for (const char* bad : {"", "130", "13000000000000000", "1300000000000000000", "13000000000000000a",
                            " 130000000000000000", "130000000000000000 ", "１30000000000000000"})
        EXPECT_EQ(ScanFor(bad).kind, ScanKind::kInvalid) << bad;
    EXPECT_EQ(ScanFor(std::string("13000000000000000\0", 18)).kind, ScanKind::kInvalid);
}

TEST(SimScanTest, NamesAreDistinctAndStored) {
    // The name goes into paysim.trades.scan, and "slow" is what the orderquery SQL promotes.
    EXPECT_EQ(ScanFor("131000000000000000").name, "slow");
    EXPECT_NE(ScanFor("130000000000000000").name, ScanFor("133000000000000000").name);
    EXPECT_NE(ScanFor("131000000000000000").name, ScanFor("134000000000000000").name);
    EXPECT_EQ(ScanFor("x").name, "");
}

TEST(SimScanTest, SlowScanPaysFromTheThirdQuery) {
    const std::string_view slow = ScanFor("131000000000000000").name;
    EXPECT_EQ(StateAfterQuery(slow, "USERPAYING", 1), "USERPAYING");
    EXPECT_EQ(StateAfterQuery(slow, "USERPAYING", 2), "USERPAYING");
    EXPECT_EQ(StateAfterQuery(slow, "USERPAYING", 3), "SUCCESS");
    EXPECT_EQ(StateAfterQuery(slow, "USERPAYING", 9), "SUCCESS");
    // Reversed or closed meanwhile: stays so.
    EXPECT_EQ(StateAfterQuery(slow, "REVOKED", 3), "REVOKED");
    EXPECT_EQ(StateAfterQuery(slow, "CLOSED", 5), "CLOSED");
    // A stuck code never pays by itself.
    const std::string_view stuck = ScanFor("134000000000000000").name;
    EXPECT_EQ(StateAfterQuery(stuck, "USERPAYING", 100), "USERPAYING");
}

}  // namespace
}  // namespace orderpay::sim

// Unit tests for domain/money: exact decimal parsing/formatting and checked arithmetic.
#include "orderpay/domain/money.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace orderpay::domain {
namespace {

constexpr Minor kMax = std::numeric_limits<Minor>::max();
constexpr Minor kMin = std::numeric_limits<Minor>::min();

TEST(MoneyTest, CurrencyExponent) {
    for (const char* c : {"CNY", "USD", "EUR", "HKD", "GBP"}) EXPECT_EQ(CurrencyExponent(c), 2) << c;
    EXPECT_EQ(CurrencyExponent("JPY"), 0);
    EXPECT_EQ(CurrencyExponent("KRW"), 0);
    for (const char* c : {"", "cny", "XXX", "BHD", "CNY ", " USD", "US"})
        EXPECT_FALSE(CurrencyExponent(c)) << c;
}

TEST(MoneyTest, ParseDecimalAccepts) {
    EXPECT_EQ(ParseDecimal("0.01", 2), 1);
    EXPECT_EQ(ParseDecimal("12", 2), 1200);
    EXPECT_EQ(ParseDecimal("321.5", 2), 32150);
    EXPECT_EQ(ParseDecimal("321.56", 2), 32156);
    EXPECT_EQ(ParseDecimal("20.00", 2), 2000);
    EXPECT_EQ(ParseDecimal("0", 2), 0);
    EXPECT_EQ(ParseDecimal("0.00", 2), 0);
    EXPECT_EQ(ParseDecimal("19.90", 2), 1990);  // the classic float bug: 19.90*100 -> 1989
    EXPECT_EQ(ParseDecimal("9.8", 2), 980);
    EXPECT_EQ(ParseDecimal("5", 0), 5);
    EXPECT_EQ(ParseDecimal("007", 0), 7);
    EXPECT_EQ(ParseDecimal("1.234", 3), 1234);
}

TEST(MoneyTest, ParseDecimalFifteenIntegerDigits) {
    EXPECT_EQ(ParseDecimal("999999999999999.99", 2), 99999999999999999);
    EXPECT_EQ(ParseDecimal("999999999999999", 0), 999999999999999);
    EXPECT_FALSE(ParseDecimal("1000000000000000", 2));  // 16 digits
    EXPECT_FALSE(ParseDecimal("0000000000000001", 0));  // still 16 digits
}

TEST(MoneyTest, ParseDecimalRejects) {
    for (const char* bad :
         {"",   ".",    "-1",   "+1", " 1",    "1 ",  "1e3",   "1E3", "1.234", "1..2", "1.2.3", ".5",
          "5.", "1,00", "0x10", "１", "1_000", "abc", "-0.01", "\t1", "1\n",   "NaN",  "inf"}) {
        EXPECT_FALSE(ParseDecimal(bad, 2)) << '"' << bad << '"';
    }
    EXPECT_FALSE(ParseDecimal(std::string("1\0", 2), 2));
    EXPECT_FALSE(ParseDecimal("5.0", 0));  // no decimals allowed for JPY
    EXPECT_FALSE(ParseDecimal("5.00", 0));
}

TEST(MoneyTest, ParseDecimalBadExponent) {
    EXPECT_FALSE(ParseDecimal("1", -1));
    EXPECT_FALSE(ParseDecimal("1", 19));
    EXPECT_EQ(ParseDecimal("1", 18), 1000000000000000000);
    // 15 integer digits scaled by 10^18 does not fit in int64.
    EXPECT_FALSE(ParseDecimal("100", 18));
}

TEST(MoneyTest, FormatDecimal) {
    EXPECT_EQ(FormatDecimal(32156, 2), "321.56");
    EXPECT_EQ(FormatDecimal(1, 2), "0.01");
    EXPECT_EQ(FormatDecimal(10, 2), "0.10");
    EXPECT_EQ(FormatDecimal(100, 2), "1.00");
    EXPECT_EQ(FormatDecimal(0, 2), "0.00");
    EXPECT_EQ(FormatDecimal(5, 0), "5");
    EXPECT_EQ(FormatDecimal(0, 0), "0");
    EXPECT_EQ(FormatDecimal(-150, 2), "-1.50");
    EXPECT_EQ(FormatDecimal(-1, 2), "-0.01");
    EXPECT_EQ(FormatDecimal(-7, 0), "-7");
    EXPECT_EQ(FormatDecimal(1, 3), "0.001");
    EXPECT_EQ(FormatDecimal(kMax, 2), "92233720368547758.07");
    EXPECT_EQ(FormatDecimal(kMin, 2), "-92233720368547758.08");
    EXPECT_EQ(FormatDecimal(kMin, 0), "-9223372036854775808");
}

TEST(MoneyTest, FormatParseRoundTrip) {
    for (Minor v :
         {Minor{0}, Minor{1}, Minor{9}, Minor{10}, Minor{99}, Minor{100}, Minor{1990}, Minor{123456789}}) {
        EXPECT_EQ(ParseDecimal(FormatDecimal(v, 2), 2), v) << v;
        EXPECT_EQ(ParseDecimal(FormatDecimal(v, 0), 0), v) << v;
    }
}

TEST(MoneyTest, CheckedAdd) {
    EXPECT_EQ(CheckedAdd(1, 2), 3);
    EXPECT_EQ(CheckedAdd(-5, 3), -2);
    EXPECT_EQ(CheckedAdd(kMax, 0), kMax);
    EXPECT_EQ(CheckedAdd(kMax, kMin), -1);
    EXPECT_FALSE(CheckedAdd(kMax, 1));
    EXPECT_FALSE(CheckedAdd(kMin, -1));
    EXPECT_FALSE(CheckedAdd(kMax, kMax));
}

TEST(MoneyTest, CheckedMul) {
    EXPECT_EQ(CheckedMul(1990, 3), 5970);
    EXPECT_EQ(CheckedMul(kMax, 1), kMax);
    EXPECT_EQ(CheckedMul(kMin, 1), kMin);
    EXPECT_EQ(CheckedMul(0, kMax), 0);
    EXPECT_EQ(CheckedMul(-4, 5), -20);
    EXPECT_FALSE(CheckedMul(kMax, 2));
    EXPECT_FALSE(CheckedMul(kMin, -1));
    EXPECT_FALSE(CheckedMul(Minor{1} << 32, Minor{1} << 31));
}

// The one rule for amounts providers send (README "Amounts providers send"): the exact value.
TEST(MoneyTest, ProviderAmountIsTheExactValue) {
    EXPECT_EQ(ParseProviderAmount("25.00", 2), 2500);
    EXPECT_EQ(ParseProviderAmount("25.000", 2), 2500);  // Alipay's 25.000 is 25.00 (review s30 Info)
    EXPECT_EQ(ParseProviderAmount("25.0000000000", 2), 2500);
    EXPECT_EQ(ParseProviderAmount("25", 2), 2500);
    EXPECT_EQ(ParseProviderAmount("25.5", 2), 2550);
    EXPECT_EQ(ParseProviderAmount("0025.00", 2), 2500);
    EXPECT_EQ(ParseProviderAmount("02500", 0), 2500);  // WeChat's total_fee with a leading zero
    EXPECT_EQ(ParseProviderAmount("2500.0", 0), 2500);
    EXPECT_EQ(ParseProviderAmount("0", 2), 0);
    EXPECT_EQ(ParseProviderAmount("0.00", 2), 0);
    EXPECT_EQ(ParseProviderAmount("000", 0), 0);
    EXPECT_EQ(ParseProviderAmount("0.01", 2), 1);
    EXPECT_EQ(ParseProviderAmount("19.90", 2), 1990);
    EXPECT_EQ(ParseProviderAmount("9", 2), 900);
    EXPECT_EQ(ParseProviderAmount("900", 0), 900);
    EXPECT_EQ(ParseProviderAmount("900.000", 0), 900);
}

TEST(MoneyTest, ProviderAmountAtAndPastTheInt64Limit) {
    EXPECT_EQ(ParseProviderAmount("9223372036854775807", 0), kMax);
    EXPECT_EQ(ParseProviderAmount("92233720368547758.07", 2), kMax);
    EXPECT_EQ(ParseProviderAmount("00000092233720368547758.0700000", 2), kMax);
    EXPECT_FALSE(ParseProviderAmount("9223372036854775808", 0));
    EXPECT_FALSE(ParseProviderAmount("92233720368547758.08", 2));
    EXPECT_FALSE(ParseProviderAmount("92233720368547759", 2));
    EXPECT_FALSE(ParseProviderAmount("18446744073709554116", 0));  // wraps to 2500 in uint64 arithmetic
    EXPECT_FALSE(ParseProviderAmount("99999999999999999999", 0));
}

TEST(MoneyTest, ProviderAmountLength) {
    const std::string longest = "25." + std::string(kMaxProviderAmountChars - 3, '0');
    EXPECT_EQ(ParseProviderAmount(longest, 2), 2500);
    EXPECT_FALSE(ParseProviderAmount(longest + "0", 2));
    EXPECT_FALSE(ParseProviderAmount(std::string(kMaxProviderAmountChars + 1, '0'), 0));
    EXPECT_FALSE(ParseProviderAmount(std::string(100000, '0') + "1", 0));
}

TEST(MoneyTest, ProviderAmountNotTheSameValue) {
    EXPECT_FALSE(ParseProviderAmount("25.001", 2));  // not a number of fen
    EXPECT_FALSE(ParseProviderAmount("25.0000001", 2));
    EXPECT_FALSE(ParseProviderAmount("2500.5", 0));
    EXPECT_FALSE(ParseProviderAmount("9.001", 2));
}

TEST(MoneyTest, ProviderAmountRefusesWhatIsNotAPlainDecimal) {
    for (const char* bad : {"",
                            ".",
                            "..",
                            ".5",
                            "5.",
                            "+5",
                            "-5",
                            "-0",
                            "+0",
                            "-0.00",
                            " 5",
                            "5 ",
                            "\t5",
                            "5\n",
                            "1e3",
                            "1E3",
                            "2.5e1",
                            "0x10",
                            "1,00",
                            "1_000",
                            "25,00",
                            "5..0",
                            "5.0.0",
                            "NaN",
                            "inf",
                            "abc",
                            "1 000",
                            "５",
                            "２５.００",
                            "٢٥",
                            "25.0０",
                            "0.0１",
                            "\xc2\xa0"
                            "5"}) {
        EXPECT_FALSE(ParseProviderAmount(bad, 2)) << '"' << bad << '"';
    }
    EXPECT_FALSE(ParseProviderAmount(std::string("25\0", 3), 2));
    EXPECT_FALSE(ParseProviderAmount(std::string("\0", 1), 2));
    EXPECT_FALSE(ParseProviderAmount(std::string("25.00\0", 6), 2));
    EXPECT_FALSE(ParseProviderAmount(std::string("2\0"
                                                 "5",
                                                 3),
                                     0));
}

TEST(MoneyTest, ProviderAmountBadExponent) {
    EXPECT_FALSE(ParseProviderAmount("1", -1));
    EXPECT_FALSE(ParseProviderAmount("1", 19));
    EXPECT_EQ(ParseProviderAmount("1.000000000000000000000", 18), 1000000000000000000);
    EXPECT_FALSE(ParseProviderAmount("10", 18));
}

}  // namespace
}  // namespace orderpay::domain

// Unit tests for paysim's input checks: /sim/pay arguments, gateway field formats, key trimming.
#include <gtest/gtest.h>

#include "orderpay/sim/cli.hpp"
#include "orderpay/sim/control.hpp"
#include "orderpay/sim/wx_call.hpp"

namespace orderpay::sim {
namespace {

TEST(SimArgsTest, PayArgsDefaults) {
    PayArgs a;
    ASSERT_EQ(ParsePayArgs({{"out_trade_no", "abc"}}, a), "");
    EXPECT_EQ(a.out_trade_no, "abc");
    EXPECT_EQ(a.times, 1);
    EXPECT_EQ(a.delay_ms, 0);
    EXPECT_EQ(a.tamper, Tamper::kNone);
    EXPECT_FALSE(a.force);
    EXPECT_EQ(a.mch_id, "");
}

TEST(SimArgsTest, PayArgsAll) {
    PayArgs a;
    ASSERT_EQ(ParsePayArgs({{"out_trade_no", "x1"},
                            {"times", "50"},
                            {"tamper", "amount_resigned"},
                            {"delay_ms", "10000"},
                            {"force", "1"},
                            {"mch_id", "1900000109"}},
                           a),
              "");
    EXPECT_EQ(a.times, 50);
    EXPECT_EQ(a.delay_ms, 10000);
    EXPECT_EQ(a.tamper, Tamper::kAmountResigned);
    EXPECT_TRUE(a.force);
    EXPECT_EQ(a.mch_id, "1900000109");
}

TEST(SimArgsTest, PayArgsRejects) {
    const http::FormPairs bad[] = {
        {},
        {{"out_trade_no", ""}},
        {{"out_trade_no", "a"}, {"times", "0"}},
        {{"out_trade_no", "a"}, {"times", "51"}},
        {{"out_trade_no", "a"}, {"times", "2x"}},
        {{"out_trade_no", "a"}, {"times", "-1"}},
        {{"out_trade_no", "a"}, {"delay_ms", "10001"}},
        {{"out_trade_no", "a"}, {"delay_ms", "-5"}},
        {{"out_trade_no", "a"}, {"tamper", "everything"}},
        {{"out_trade_no", "a"}, {"force", "yes"}},
    };
    for (const auto& form : bad) {
        PayArgs a;
        EXPECT_NE(ParsePayArgs(form, a), "")
            << (form.empty() ? "" : form.back().first + "=" + form.back().second);
    }
}

TEST(SimArgsTest, Fen) {
    std::int64_t v = 0;
    EXPECT_TRUE(ParseFen("1", v));
    EXPECT_EQ(v, 1);
    EXPECT_TRUE(ParseFen("999999999999", v));
    EXPECT_EQ(v, 999999999999);
    for (const char* bad : {"", "0", "-1", "+1", "1.00", "1e3", " 1", "1000000000000"})
        EXPECT_FALSE(ParseFen(bad, v)) << bad;
}

TEST(SimArgsTest, OutTradeNo) {
    EXPECT_TRUE(ValidOutTradeNo("a"));
    EXPECT_TRUE(ValidOutTradeNo("Az09_-|*@"));
    EXPECT_TRUE(ValidOutTradeNo(std::string(32, 'x')));
    EXPECT_FALSE(ValidOutTradeNo(std::string(33, 'x')));
    EXPECT_FALSE(ValidOutTradeNo(""));
    EXPECT_FALSE(ValidOutTradeNo("a b"));
    EXPECT_FALSE(ValidOutTradeNo("a/b"));
    EXPECT_FALSE(ValidOutTradeNo("订单"));
}

TEST(SimArgsTest, NotifyUrl) {
    EXPECT_TRUE(ValidNotifyUrl("http://127.0.0.1:8080/api/demo/pay/re_wx"));
    EXPECT_TRUE(ValidNotifyUrl("https://shop.example/notify"));
    EXPECT_FALSE(ValidNotifyUrl(""));
    EXPECT_FALSE(ValidNotifyUrl("ftp://x/y"));
    EXPECT_FALSE(ValidNotifyUrl("http://"));
    EXPECT_FALSE(ValidNotifyUrl("http:///path"));
    EXPECT_FALSE(ValidNotifyUrl("http://x/n?a=1"));
    EXPECT_FALSE(ValidNotifyUrl("http://x/a b"));
    EXPECT_FALSE(ValidNotifyUrl("http://x/" + std::string(300, 'a')));
}

TEST(SimArgsTest, TrimKey) {
    EXPECT_EQ(TrimKey("abc\n"), "abc");
    EXPECT_EQ(TrimKey("abc\r\n"), "abc");
    EXPECT_EQ(TrimKey("abc\n\n"), "abc");
    EXPECT_EQ(TrimKey("abc"), "abc");
    EXPECT_EQ(TrimKey(" abc \n"), " abc ");  // only the line break goes
    EXPECT_EQ(TrimKey("\n"), "");
}

}  // namespace
}  // namespace orderpay::sim

// Unit tests for paysim's input checks: /sim/pay arguments, gateway field formats, key trimming.
#include <gtest/gtest.h>

#include <chrono>

#include "sim/alipay/control.hpp"
#include "sim/alipay/gateway.hpp"
#include "sim/core/cli.hpp"
#include "sim/core/control.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/control.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/control.hpp"

namespace orderpay::sim {
namespace {

TEST(SimArgsTest, PayArgsDefaults) {
    PayArgs a;
    ASSERT_EQ(ParsePayArgs({{"out_trade_no", "abc"}}, a), "");
    EXPECT_EQ(a.out_trade_no, "abc");
    EXPECT_EQ(a.times, 1);
    EXPECT_EQ(a.delay_ms, 0);
    EXPECT_FALSE(a.force);
    EXPECT_EQ(a.mch_id, "");
    WxPayArgs w;
    ASSERT_EQ(ParseWxPayArgs({{"out_trade_no", "abc"}}, w), "");
    EXPECT_EQ(w.tamper, Tamper::kNone);
}

TEST(SimArgsTest, PayArgsAll) {
    const http::FormPairs form = {{"out_trade_no", "x1"}, {"times", "50"}, {"tamper", "amount_resigned"},
                                  {"delay_ms", "10000"},  {"force", "1"},  {"mch_id", "1900000109"}};
    PayArgs a;
    ASSERT_EQ(ParsePayArgs(form, a), "");
    EXPECT_EQ(a.times, 50);
    EXPECT_EQ(a.delay_ms, 10000);
    EXPECT_TRUE(a.force);
    EXPECT_EQ(a.mch_id, "1900000109");
    WxPayArgs w;
    ASSERT_EQ(ParseWxPayArgs(form, w), "");
    EXPECT_EQ(w.tamper, Tamper::kAmountResigned);
}

TEST(SimArgsTest, PayArgsRejects) {
    const http::FormPairs bad[] = {
        {},
        {{"out_trade_no", ""}},
        {{"out_trade_no", "a"}, {"times", "51"}},
        {{"out_trade_no", "a"}, {"times", "2x"}},
        {{"out_trade_no", "a"}, {"times", "-1"}},
        {{"out_trade_no", "a"}, {"delay_ms", "10001"}},
        {{"out_trade_no", "a"}, {"delay_ms", "-5"}},
        {{"out_trade_no", "a"}, {"force", "yes"}},
    };
    for (const auto& form : bad) {
        PayArgs a;
        EXPECT_NE(ParsePayArgs(form, a), "")
            << (form.empty() ? "" : form.back().first + "=" + form.back().second);
    }
    WxPayArgs w;
    EXPECT_NE(ParseWxPayArgs({{"tamper", "everything"}}, w), "");
}

TEST(SimArgsTest, TimesZeroPaysWithoutNotifying) {
    // times=0 is a lost notification: the buyer pays, nothing is sent. For both providers: the
    // argument is read before the trade's provider is known.
    for (const char* provider : {"", "wx", "zfb"}) {
        PayArgs a;
        ASSERT_EQ(ParsePayArgs({{"out_trade_no", "a"}, {"provider", provider}, {"times", "0"}}, a), "")
            << provider;
        EXPECT_EQ(a.times, 0) << provider;
    }
    PayArgs a;
    EXPECT_EQ(ParsePayArgs({{"out_trade_no", "a"}, {"times", "-1"}}, a), "times must be 0..50");
    EXPECT_EQ(ParsePayArgs({{"out_trade_no", "a"}, {"times", "51"}}, a), "times must be 0..50");
    EXPECT_EQ(ParsePayArgs({{"out_trade_no", "a"}, {"times", ""}}, a), "");
    EXPECT_EQ(a.times, 1) << "absent or empty: one copy";
}

TEST(SimArgsTest, NoCopiesSendsNothingAndAnswersAtOnce) {
    // No thread, no sleep, no connection: the URL is unreachable and the delay long.
    Notice n;
    n.out_trade_no = "a1";
    n.transaction_id = "4200000000000000000000000001";
    n.url = "http://127.0.0.1:1/never";
    n.content_type = "text/xml";
    n.body = "<xml/>";
    n.copies = 0;
    const auto start = std::chrono::steady_clock::now();
    const http::Response r = SendNotice(SimOptions{}, n, 10000);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body,
              "{\"ok\":true,\"data\":{\"out_trade_no\":\"a1\",\"transaction_id\":"
              "\"4200000000000000000000000001\",\"sent\":0,\"replies\":[]}}");
}

TEST(SimArgsTest, ProviderIsWxZfbOrPaypal) {
    PayArgs a;
    ASSERT_EQ(ParsePayArgs({{"out_trade_no", "x"}, {"provider", "zfb"}, {"tamper", "seller_id"}}, a), "");
    EXPECT_EQ(a.provider, "zfb");
    WxPayArgs w;
    EXPECT_NE(ParseWxPayArgs({{"tamper", "seller_id"}}, w), "") << "not a WeChat knob";
    EXPECT_EQ(ParsePayArgs({{"out_trade_no", "x"}, {"provider", "paypal"}}, a), "");
    EXPECT_NE(ParsePayArgs({{"out_trade_no", "x"}, {"provider", "stripe"}}, a), "");
}

TEST(SimArgsTest, PaypalPayArgs) {
    PpPayArgs p;
    EXPECT_EQ(ParsePpPayArgs({}, p), "");
    EXPECT_EQ(p.event, "COMPLETED");
    EXPECT_EQ(p.tamper, "");
    for (const char* e : {"APPROVED", "COMPLETED", "PENDING", "DENIED"})
        EXPECT_EQ(ParsePpPayArgs({{"event", e}}, p), "") << e;
    EXPECT_NE(ParsePpPayArgs({{"event", "REFUNDED"}}, p), "");
    for (const char* t :
         {"sign", "amount", "amount_resigned", "crc", "cert_host", "cert_cn", "cert_expired", "algo"})
        EXPECT_EQ(ParsePpPayArgs({{"tamper", t}}, p), "") << t;
    EXPECT_NE(ParsePpPayArgs({{"tamper", "appid"}}, p), "");
}

TEST(SimArgsTest, TamperMessageListsTheProvidersNames) {
    WxPayArgs w;
    EXPECT_EQ(ParseWxPayArgs({{"tamper", "x"}}, w),
              "tamper must be one of sign, amount, amount_resigned, doctype, appid, pretty, gbk_declaration, "
              "comment");
    ZfbPayArgs z;
    EXPECT_EQ(ParseZfbPayArgs({{"tamper", "x"}}, z),
              "tamper must be one of sign, amount, amount_resigned, app_id, seller_id");
}

TEST(SimArgsTest, RequestArgumentsAreTheBodyThenTheQuery) {
    http::Request req;
    req.method = "POST";
    req.body = "a=1&b=2";
    req.query = {{"b", "9"}, {"c", "3"}, {"c", "4"}};
    // A name in the body is not taken again from the query; the query's own repeats stay.
    EXPECT_EQ(RequestArguments(req), (http::FormPairs{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"c", "4"}}));
    req.method = "GET";  // only a POST has a form body
    EXPECT_EQ(RequestArguments(req), (http::FormPairs{{"b", "9"}, {"c", "3"}, {"c", "4"}}));
    req.query_ok = false;
    EXPECT_EQ(RequestArguments(req), std::nullopt);
    req.method = "POST";
    req.query_ok = true;
    req.body = "a=%zz";
    EXPECT_EQ(RequestArguments(req), std::nullopt);
}

TEST(SimArgsTest, ZfbPayArgs) {
    ZfbPayArgs z;
    ASSERT_EQ(ParseZfbPayArgs({}, z), "");
    EXPECT_EQ(z.tamper, ZfbTamper::kNone);
    EXPECT_FALSE(z.gbk);
    EXPECT_FALSE(z.subject);
    EXPECT_EQ(z.trade_status, "TRADE_SUCCESS");
    ASSERT_EQ(ParseZfbPayArgs({{"tamper", "seller_id"},
                               {"charset", "gbk"},
                               {"subject", "tea + cups & more 测试"},
                               {"trade_status", "TRADE_FINISHED"}},
                              z),
              "");
    EXPECT_EQ(z.tamper, ZfbTamper::kSellerId);
    EXPECT_TRUE(z.gbk);
    EXPECT_EQ(z.subject, "tea + cups & more 测试");
    EXPECT_EQ(z.trade_status, "TRADE_FINISHED");
    const http::FormPairs bad[] = {
        {{"tamper", "doctype"}}, {{"tamper", "appid"}},         {{"charset", "big5"}},
        {{"subject", ""}},       {{"trade_status", "SUCCESS"}}, {{"trade_status", "trade_success"}},
    };
    for (const auto& form : bad) {
        ZfbPayArgs x;
        EXPECT_NE(ParseZfbPayArgs(form, x), "") << form.back().first << "=" << form.back().second;
    }
}

TEST(SimArgsTest, ZfbOutTradeNo) {
    EXPECT_TRUE(ValidZfbOutTradeNo("1703147160"));
    EXPECT_TRUE(ValidZfbOutTradeNo("Az09_-."));
    EXPECT_TRUE(ValidZfbOutTradeNo(std::string(64, 'x')));
    EXPECT_FALSE(ValidZfbOutTradeNo(std::string(65, 'x')));
    EXPECT_FALSE(ValidZfbOutTradeNo(""));
    EXPECT_FALSE(ValidZfbOutTradeNo("a b"));
    EXPECT_FALSE(ValidZfbOutTradeNo("订单"));
}

TEST(SimArgsTest, Fen) {
    std::int64_t v = 0;
    EXPECT_TRUE(ParseFen("1", v));
    EXPECT_EQ(v, 1);
    EXPECT_TRUE(ParseFen("2147483647", v));  // the gateway's Int maximum
    EXPECT_EQ(v, 2147483647);
    for (const char* bad : {"", "0", "-1", "+1", "1.00", "1e3", " 1", "2147483648", "9999999999",
                            "99999999999", "1000000000000"})
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

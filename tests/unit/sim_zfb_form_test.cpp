// Unit tests for sim/alipay/notify and sim/alipay/tamper: Alipay's form encoding (byte-exact against
// the real sandbox body of PROTOCOLS.md V-ALI-1), GBK, the signed notification and return-URL
// parameters, and each tamper knob.
#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "orderpay/providers/alipay/sign.hpp"
#include "sim/alipay/notify.hpp"
#include "sim/alipay/tamper.hpp"

namespace orderpay::sim {
namespace {

// V-ALI-1 as it arrived from Alipay's sandbox (PROTOCOLS.md §5).
constexpr std::string_view kSandboxBody =
    "gmt_create=2023-12-21+16%3A26%3A32&charset=utf-8&gmt_payment=2023-12-21+16%3A26%3A43&notify_time=2023-"
    "12-21+"
    "16%3A26%3A45&subject=yansongda%2B%E6%B5%8B%E8%AF%95+-+1&sign=Rs7SszD15WqbdJsGZPN%"
    "2BHpCBcQzBCkJx0ccNeg1rpUxyT"
    "VA1ps2vJ4sLhaa7O%2BlliTj6N1MSGqc8cK6JSs7nPg731RAOfneirtrqrlW2u0m15kWAKrVjgPGLUMtK%2FeT15e%2F6NcxsWra%"
    "2FbsZaan"
    "%2BnFDzO8xceOwy96W%2BqVUtTPfBRBp9Zjryi5oIONOifGMALD284YbNC3qq2eyqVysF%2Bzgk%2B%2FMtuHk2Eh%"
    "2FfL7UbClHQXQ2hD686"
    "Dt8bR949TNMbkWCYXstmjVBO55qF8xhaoF%2Fb5zAe5%2FO%2F13g%2FQlwDXBcF3XwJpbFWrBehoFFCnJhR%2FxXZ0E%"
    "2BD2Vsw1oAQ3l%2B"
    "R2dQ%3D%3D&buyer_id=2088722003899169&invoice_amount=0.01&version=1.0&notify_id="
    "20231221012221626441991605016"
    "32046&fund_bill_list=%5B%7B%22amount%22%3A%220.01%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D&"
    "notify_"
    "type=trade_status_sync&out_trade_no=1703147160&total_amount=0.01&trade_status=TRADE_SUCCESS&trade_no="
    "2023122"
    "122001499160501589436&auth_app_id=9021000122682882&receipt_amount=0.01&point_amount=0.00&app_id="
    "902100012268"
    "2882&buyer_pay_amount=0.01&sign_type=RSA2&seller_id=2088721003899159";

const crypto::PKey& AlipayKey() {
    static const crypto::PKey key(EVP_RSA_gen(2048), CDeleter<EVP_PKEY_free>{});
    return key;
}

std::vector<std::string> Names(const ZfbParams& p) {
    std::vector<std::string> out;
    for (const auto& kv : p) out.push_back(kv.first);
    return out;
}

std::string Get(const ZfbParams& p, const std::string& name) {
    return http::FormValue(p, name).value_or("<absent>");
}

// What orderpay receives: the body decoded again ('+' as space), then verified like re_zfb does.
bool Verifies(const ZfbParams& sent) {
    std::optional<http::FormPairs> received = http::ParseForm(ZfbFormEncode(sent));
    EXPECT_TRUE(received);
    std::string reason;
    return received && alipay::VerifyNotification(*received, AlipayKey(), reason);
}

zfb_store::Trade PaidTrade() {
    zfb_store::Trade t;
    t.key = {"2088721003899159", "1703147160"};
    t.app_id = "9021000122682882";
    t.method = "precreate";
    t.total_fee = 1;
    t.subject = "tea + cups & more 测试 - 1";
    t.notify_url = "http://127.0.0.1/api/demo/pay/re_zfb";
    t.trade_no = "2023122122001499160501589436";
    t.buyer_id = "2088722003899169";
    t.buyer_logon_id = "138******9169";
    t.state = "TRADE_SUCCESS";
    t.notify_seed = "seed";
    t.ct = 1703147192;       // 2023-12-21 16:26:32 in Beijing
    t.paid_at = 1703147203;  // 16:26:43
    return t;
}

ZfbNotifyOptions At(std::int64_t now, std::string status = "TRADE_SUCCESS") {
    ZfbNotifyOptions o;
    o.trade_status = std::move(status);
    o.now = now;
    return o;
}

ZfbParams Notification(const zfb_store::Trade& t, const ZfbNotifyOptions& o) {
    std::string error;
    std::optional<ZfbParams> p = ZfbNotificationParams(t, AlipayKey(), o, error);
    EXPECT_TRUE(p) << error;
    return p.value_or(ZfbParams{});
}

TEST(SimZfbFormTest, EscapesLikeAlipay) {
    EXPECT_EQ(ZfbFormEscape("tea + cups & more 测试"), "tea+%2B+cups+%26+more+%E6%B5%8B%E8%AF%95");
    EXPECT_EQ(ZfbFormEscape("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(ZfbFormEscape("a=b/c:d%"), "a%3Db%2Fc%3Ad%25");
    EXPECT_EQ(ZfbFormEscape(std::string("\x00\xff", 2)), "%00%FF");
    EXPECT_EQ(ZfbFormEncode({{"a b", "1+1"}, {"c", ""}}), "a+b=1%2B1&c=");
}

TEST(SimZfbFormTest, ReEncodesTheSandboxNotificationByteForByte) {
    std::optional<http::FormPairs> pairs = http::ParseForm(kSandboxBody);
    ASSERT_TRUE(pairs);
    EXPECT_EQ(Get(*pairs, "subject"), "yansongda+测试 - 1");
    EXPECT_EQ(ZfbFormEncode(*pairs), kSandboxBody);
}

TEST(SimZfbFormTest, Utf8ToGbk) {
    EXPECT_EQ(Utf8ToGbk("测试"), "\xb2\xe2\xca\xd4");
    EXPECT_EQ(Utf8ToGbk("abc 支付宝 1"), "abc \xd6\xa7\xb8\xb6\xb1\xa6 1");
    EXPECT_EQ(Utf8ToGbk(""), "");
    EXPECT_EQ(alipay::GbkToUtf8(*Utf8ToGbk("绿茶 礼盒 + 测试")), "绿茶 礼盒 + 测试");
    EXPECT_EQ(Utf8ToGbk("\xf0\x9f\x8d\xb5"), std::nullopt) << "an emoji has no GBK form";
    EXPECT_EQ(Utf8ToGbk("\xff"), std::nullopt) << "not UTF-8";
}

TEST(SimZfbFormTest, NotifyIdIsStablePerStatus) {
    const std::string a = ZfbNotifyId("seed", "TRADE_SUCCESS", 1703147192);
    EXPECT_EQ(a.size(), 34u);
    EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](char c) { return c >= '0' && c <= '9'; })) << a;
    EXPECT_EQ(a.substr(0, 12), "202312210122");
    EXPECT_EQ(a, ZfbNotifyId("seed", "TRADE_SUCCESS", 1703147192));
    EXPECT_NE(a, ZfbNotifyId("seed", "TRADE_FINISHED", 1703147192));
    EXPECT_NE(a, ZfbNotifyId("other", "TRADE_SUCCESS", 1703147192));
}

TEST(SimZfbFormTest, PaidNotificationHasTheSandboxShape) {
    const ZfbParams p = Notification(PaidTrade(), At(1703147205));
    const std::vector<std::string> sandbox_order = Names(*http::ParseForm(kSandboxBody));
    EXPECT_EQ(Names(p), sandbox_order);
    EXPECT_EQ(Get(p, "gmt_create"), "2023-12-21 16:26:32");
    EXPECT_EQ(Get(p, "gmt_payment"), "2023-12-21 16:26:43");
    EXPECT_EQ(Get(p, "notify_time"), "2023-12-21 16:26:45");
    EXPECT_EQ(Get(p, "charset"), "utf-8");
    EXPECT_EQ(Get(p, "total_amount"), "0.01");
    EXPECT_EQ(Get(p, "fund_bill_list"), R"([{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}])");
    EXPECT_EQ(Get(p, "subject"), "tea + cups & more 测试 - 1");
    EXPECT_EQ(Get(p, "auth_app_id"), "9021000122682882");
    EXPECT_TRUE(Verifies(p));
    // The encoded subject exercises '+' for spaces and %2B for the plus sign.
    EXPECT_NE(ZfbFormEncode(p).find("subject=tea+%2B+cups+%26+more+%E6%B5%8B%E8%AF%95+-+1&"),
              std::string::npos);
}

TEST(SimZfbFormTest, SubjectOverride) {
    ZfbNotifyOptions o = At(1703147205);
    o.subject = "别的 subject";
    const ZfbParams p = Notification(PaidTrade(), o);
    EXPECT_EQ(Get(p, "subject"), "别的 subject");
    EXPECT_TRUE(Verifies(p));
}

TEST(SimZfbFormTest, GbkNotificationIsSignedOverGbkBytes) {
    ZfbNotifyOptions o = At(1703147205);
    o.gbk = true;
    const ZfbParams p = Notification(PaidTrade(), o);
    EXPECT_EQ(Get(p, "charset"), "GBK");
    EXPECT_EQ(Get(p, "subject"), "tea + cups & more \xb2\xe2\xca\xd4 - 1");
    EXPECT_TRUE(Verifies(p));
    EXPECT_NE(ZfbFormEncode(p).find("%B2%E2%CA%D4"), std::string::npos);

    zfb_store::Trade emoji = PaidTrade();
    emoji.subject = "tea \xf0\x9f\x8d\xb5";
    std::string error;
    EXPECT_FALSE(ZfbNotificationParams(emoji, AlipayKey(), o, error));
    EXPECT_NE(error.find("subject"), std::string::npos) << error;
}

TEST(SimZfbFormTest, StatusesCarryTheirOwnFields) {
    zfb_store::Trade waiting = PaidTrade();
    waiting.state = "WAIT_BUYER_PAY";
    waiting.paid_at.reset();
    const ZfbParams wait = Notification(waiting, At(1703147205, "WAIT_BUYER_PAY"));
    EXPECT_EQ(Get(wait, "trade_status"), "WAIT_BUYER_PAY");
    for (const char* absent :
         {"gmt_payment", "receipt_amount", "buyer_pay_amount", "fund_bill_list", "gmt_close"})
        EXPECT_EQ(Get(wait, absent), "<absent>") << absent;
    EXPECT_TRUE(Verifies(wait));

    zfb_store::Trade closed = waiting;
    closed.state = "TRADE_CLOSED";
    closed.closed_at = 1703147300;
    const ZfbParams close = Notification(closed, At(1703147305, "TRADE_CLOSED"));
    EXPECT_EQ(Get(close, "gmt_close"), "2023-12-21 16:28:20");
    EXPECT_EQ(Get(close, "gmt_payment"), "<absent>");
    EXPECT_EQ(Get(close, "refund_fee"), "<absent>");
    EXPECT_TRUE(Verifies(close));

    zfb_store::Trade refunded = PaidTrade();
    refunded.state = "TRADE_CLOSED";
    refunded.refunded = true;
    refunded.closed_at = 1703147300;
    const ZfbParams refund = Notification(refunded, At(1703147305, "TRADE_CLOSED"));
    EXPECT_EQ(Get(refund, "refund_fee"), "0.01");
    EXPECT_EQ(Get(refund, "gmt_refund"), "2023-12-21 16:28:20");
    EXPECT_EQ(Get(refund, "gmt_payment"), "2023-12-21 16:26:43");
    EXPECT_TRUE(Verifies(refund));

    const ZfbParams finished = Notification(PaidTrade(), At(1703147305, "TRADE_FINISHED"));
    EXPECT_EQ(Get(finished, "trade_status"), "TRADE_FINISHED");
    EXPECT_NE(Get(finished, "notify_id"), Get(Notification(PaidTrade(), At(1703147305)), "notify_id"));
    EXPECT_TRUE(Verifies(finished));
}

TEST(SimZfbFormTest, ReturnUrlHasTheSandboxShape) {
    const ZfbParams p = ZfbReturnParams(PaidTrade(), AlipayKey(), 1703141324);
    const std::vector<std::string> expected = {"charset", "out_trade_no", "method",      "total_amount",
                                               "sign",    "trade_no",     "auth_app_id", "version",
                                               "app_id",  "sign_type",    "seller_id",   "timestamp"};
    EXPECT_EQ(Names(p), expected);
    EXPECT_EQ(Get(p, "method"), "alipay.trade.page.pay.return");
    EXPECT_EQ(Get(p, "timestamp"), "2023-12-21 14:48:44");
    EXPECT_NE(ZfbFormEncode(p).find("timestamp=2023-12-21+14%3A48%3A44"), std::string::npos);
    EXPECT_TRUE(Verifies(p));
}

TEST(SimZfbFormTest, TamperKnobs) {
    EXPECT_EQ(ParseZfbTamper(""), ZfbTamper::kNone);
    EXPECT_EQ(ParseZfbTamper("seller_id"), ZfbTamper::kSellerId);
    EXPECT_EQ(ParseZfbTamper("app_id"), ZfbTamper::kAppId);
    EXPECT_EQ(ParseZfbTamper("appid"), std::nullopt);  // WeChat's spelling
    EXPECT_EQ(ParseZfbTamper("doctype"), std::nullopt);

    const ZfbParams good = Notification(PaidTrade(), At(1703147205));
    struct Case {
        ZfbTamper t;
        bool verifies;
        const char* field;
        const char* value;
    };
    const Case cases[] = {
        {ZfbTamper::kNone, true, "total_amount", "0.01"},
        {ZfbTamper::kSign, false, "total_amount", "0.01"},
        {ZfbTamper::kAmount, false, "total_amount", "0.02"},
        {ZfbTamper::kAmountResigned, true, "total_amount", "0.02"},
        {ZfbTamper::kAppId, true, "app_id", "9021000122682883"},
        {ZfbTamper::kSellerId, true, "seller_id", "2088721003899150"},
    };
    for (const Case& c : cases) {
        ZfbParams p = good;
        TamperZfbParams(p, c.t, AlipayKey());
        EXPECT_EQ(Verifies(p), c.verifies) << static_cast<int>(c.t);
        EXPECT_EQ(Get(p, c.field), c.value) << static_cast<int>(c.t);
        EXPECT_EQ(Names(p), Names(good)) << "same fields, same order";
        if (c.t == ZfbTamper::kSign) {
            // Still base64 of the right length: only the value is wrong, not its shape.
            EXPECT_EQ(Get(p, "sign").size(), Get(good, "sign").size());
            EXPECT_NE(Get(p, "sign"), Get(good, "sign"));
        }
        if (c.t == ZfbTamper::kAppId) {
            EXPECT_EQ(Get(p, "auth_app_id"), "9021000122682882");
        }
    }
}

}  // namespace
}  // namespace orderpay::sim

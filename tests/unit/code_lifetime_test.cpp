// Unit tests for a code's lifetime at its provider (providers::CodeOutlived, the registry's table)
// and what the buyer's and the operators' order views show of an outlived code (app::RenderOrder).
#include <gtest/gtest.h>

#include <string>

#include "orderpay/app/order_view.hpp"
#include "orderpay/providers/registry.hpp"

namespace orderpay {
namespace {

constexpr std::int64_t kMin = 60 * 1000;

TEST(CodeLifetime, EachPayTypeStatesItsCodesLifetime) {
    using std::chrono::minutes;
    auto life = [](std::string_view name) { return providers::FindPayType(name)->code_life; };
    EXPECT_EQ(life("wx.qrcode"), minutes(120));   // Native code_url, v2 and v3 alike
    EXPECT_EQ(life("wx.jsapi"), minutes(120));    // prepay_id
    EXPECT_EQ(life("paypal"), minutes(180));      // the approval window's default
    EXPECT_EQ(life("zfb.qrcode"), minutes(120));  // precreate's qr_code
    EXPECT_EQ(life("wx.scan"), minutes(0));
    EXPECT_EQ(life("zfb.scan"), minutes(0));
    for (const providers::PayTypeRow& t : providers::PayTypeRows())
        EXPECT_GE(t.code_life.count(), 0) << t.name;
    EXPECT_EQ(providers::kCodeLifeMargin, minutes(5));
}

TEST(CodeLifetime, OutlivedFromTheMarginBeforeItsEnd) {
    // Dead from 115 minutes for WeChat and Alipay, 175 for PayPal: a buyer shown it needs time to pay.
    EXPECT_FALSE(providers::CodeOutlived("wx.qrcode", 0));
    EXPECT_FALSE(providers::CodeOutlived("wx.qrcode", 115 * kMin - 1));
    EXPECT_TRUE(providers::CodeOutlived("wx.qrcode", 115 * kMin));
    EXPECT_TRUE(providers::CodeOutlived("wx.jsapi", 115 * kMin));
    EXPECT_TRUE(providers::CodeOutlived("wx.qrcode", 7 * 24 * 60 * kMin));
    EXPECT_FALSE(providers::CodeOutlived("paypal", 175 * kMin - 1));
    EXPECT_TRUE(providers::CodeOutlived("paypal", 175 * kMin));
    EXPECT_FALSE(providers::CodeOutlived("zfb.qrcode", 115 * kMin - 1));
    EXPECT_TRUE(providers::CodeOutlived("zfb.qrcode", 115 * kMin));
    // No lifetime of its own, or no pay type: never outlived.
    EXPECT_FALSE(providers::CodeOutlived("wx.scan", 7 * 24 * 60 * kMin));
    EXPECT_FALSE(providers::CodeOutlived("zfb.scan", 7 * 24 * 60 * kMin));
    EXPECT_FALSE(providers::CodeOutlived("", 7 * 24 * 60 * kMin));
    EXPECT_FALSE(providers::CodeOutlived("wx.nosuch", 7 * 24 * 60 * kMin));
}

store::SlipRow Slip(const std::string& pay_tp, domain::SlipState st, std::optional<std::int64_t> age_ms) {
    store::SlipRow s;
    s.id = "slip1";
    s.order_id = "order1";
    s.pay_tp = pay_tp;
    s.st = st;
    s.re_tp = "QRCODE";
    s.re_obj = "weixin://wxpay/bizpayurl?pr=abc";
    s.code_age_ms = age_ms;
    return s;
}

TEST(CodeLifetime, OnlyAWaitingSlipsAgeCounts) {
    using S = domain::SlipState;
    EXPECT_TRUE(app::CodeOutlived(Slip("wx.qrcode", S::kWait, 120 * kMin)));
    EXPECT_FALSE(app::CodeOutlived(Slip("wx.qrcode", S::kWait, 100 * kMin)));
    // NEW has no code yet (its lm is a resend claim's), OK is paid; FAIL shows none anyway.
    EXPECT_FALSE(app::CodeOutlived(Slip("wx.qrcode", S::kNew, 120 * kMin)));
    EXPECT_FALSE(app::CodeOutlived(Slip("wx.qrcode", S::kOk, 120 * kMin)));
    // A statement that did not read the age: nothing to judge by.
    EXPECT_FALSE(app::CodeOutlived(Slip("wx.qrcode", S::kWait, std::nullopt)));
    EXPECT_TRUE(app::CodeOutlived(Slip("zfb.qrcode", S::kWait, 24 * 60 * kMin)));
    EXPECT_FALSE(app::CodeOutlived(Slip("zfb.scan", S::kWait, 24 * 60 * kMin)));
}

// pay/pay keeps a WAIT slip only when this says payable, and the buyer's views show re_tp NONE
// exactly when it does not: one predicate, so a kept code is always one the buyer is shown.
TEST(CodeLifetime, APayableCodeIsNeitherFailedNorPastExpiryNorOutlived) {
    using S = domain::SlipState;
    EXPECT_TRUE(app::CodePayable(Slip("wx.qrcode", S::kWait, 100 * kMin), false));
    EXPECT_FALSE(app::CodePayable(Slip("wx.qrcode", S::kWait, 100 * kMin), true));
    EXPECT_FALSE(app::CodePayable(Slip("wx.qrcode", S::kWait, 120 * kMin), false));
    EXPECT_FALSE(app::CodePayable(Slip("wx.qrcode", S::kFail, 1 * kMin), false));
    EXPECT_FALSE(app::CodePayable(Slip("zfb.qrcode", S::kWait, 24 * 60 * kMin), false));
    EXPECT_TRUE(app::CodePayable(Slip("zfb.qrcode", S::kWait, 100 * kMin), false));
    store::OrderRecord o;
    o.id = "order1";
    o.tp = "A";
    o.currency = "CNY";
    o.pay_tp = "wx.qrcode";
    o.or_st = domain::OrderState::kWT;
    for (bool past : {false, true}) {
        o.expired = past;
        for (S st : {S::kNew, S::kWait, S::kOk, S::kFail}) {
            for (std::int64_t age : {1 * kMin, 120 * kMin}) {
                const store::SlipRow slip = Slip("wx.qrcode", st, age);
                const std::string json = app::RenderOrder(o, {}, slip, app::Audience::kBuyer);
                const bool none = json.find("\"re_tp\":\"NONE\"") != std::string::npos;
                EXPECT_EQ(none, !app::CodePayable(slip, past)) << json;
            }
        }
    }
}

std::string Rendered(const store::SlipRow& slip, app::Audience who) {
    store::OrderRecord o;
    o.id = "order1";
    o.tp = "A";
    o.currency = "CNY";
    o.pay_tp = slip.pay_tp;
    o.or_st = domain::OrderState::kWT;
    return app::RenderOrder(o, {}, slip, who);
}

TEST(CodeLifetime, TheBuyerIsNotShownAnOutlivedCodeTheOperatorIs) {
    const store::SlipRow dead = Slip("wx.qrcode", domain::SlipState::kWait, 116 * kMin);
    const std::string none = R"("pay_re":{"st":"WAIT","re_tp":"NONE","re_obj":null})";
    const std::string code =
        R"("pay_re":{"st":"WAIT","re_tp":"QRCODE","re_obj":"weixin://wxpay/bizpayurl?pr=abc"})";
    EXPECT_NE(Rendered(dead, app::Audience::kBuyer).find(none), std::string::npos);
    EXPECT_NE(Rendered(dead, app::Audience::kReturn).find(none), std::string::npos);
    EXPECT_NE(Rendered(dead, app::Audience::kOperator).find(code), std::string::npos);
    const store::SlipRow live = Slip("wx.qrcode", domain::SlipState::kWait, 114 * kMin);
    EXPECT_NE(Rendered(live, app::Audience::kBuyer).find(code), std::string::npos);
    EXPECT_NE(
        Rendered(Slip("zfb.qrcode", domain::SlipState::kWait, 116 * kMin), app::Audience::kBuyer).find(none),
        std::string::npos);
    EXPECT_EQ(Rendered(Slip("zfb.qrcode", domain::SlipState::kWait, 114 * kMin), app::Audience::kBuyer)
                  .find("NONE"),
              std::string::npos);
}

}  // namespace
}  // namespace orderpay

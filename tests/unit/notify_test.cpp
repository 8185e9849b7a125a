// Unit tests for the provider registry and the notification binding: every pay type belongs to
// a registered provider, each provider parses its own format and answers with its exact reply
// bytes, and the business checks refuse a slip of another provider or merchant.
#include "orderpay/app/notify.hpp"

#include <gtest/gtest.h>

#include <set>

#include "orderpay/domain/ids.hpp"
#include "orderpay/providers/registry.hpp"

namespace orderpay {
namespace {

TEST(RegistryTest, EveryPayTypeNamesARegisteredProvider) {
    Config cfg;
    providers::Providers all(cfg);
    ASSERT_EQ(all.all().size(), providers::ProviderRows().size());
    for (const auto& t : providers::PayTypeRows()) {
        const providers::Provider* p = all.Find(t.provider);
        ASSERT_NE(p, nullptr) << t.name;
        // "wx.qrcode" names its provider before the dot; "paypal" is the provider's id itself.
        EXPECT_TRUE(std::string_view(t.name).starts_with(std::string(p->Id()) + ".") || t.name == p->Id())
            << t.name;
        EXPECT_EQ(providers::FindPayType(t.name), &t);
    }
    ASSERT_NE(providers::FindPayType("paypal"), nullptr);
    EXPECT_EQ(providers::FindPayType("paypal")->kind, providers::PayKind::kLink);
    EXPECT_EQ(providers::FindPayType("paypal.link"), nullptr);
    EXPECT_EQ(providers::FindPayType("wx"), nullptr);
    EXPECT_EQ(all.Find("nope"), nullptr);
}

TEST(RegistryTest, ProviderIdsAreUnique) {
    std::set<std::string_view> seen;
    for (const auto& row : providers::ProviderRows()) EXPECT_TRUE(seen.insert(row.id).second) << row.id;
}

TEST(NotifyReplyTest, WechatRepliesAreExactXml) {
    providers::Providers all(Config{});
    const providers::Provider* wx = all.Find("wx");
    auto ok = wx->NotificationReply(providers::NotifyAnswer::kAccepted);
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.content_type, "text/xml");
    EXPECT_EQ(
        ok.body,
        "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>");
    auto refused = wx->NotificationReply(providers::NotifyAnswer::kRefused);
    EXPECT_EQ(refused.status, 200);
    EXPECT_TRUE(refused.body.starts_with("<xml><return_code><![CDATA[FAIL]]></return_code>"));
    EXPECT_EQ(wx->NotificationReply(providers::NotifyAnswer::kError).status, 500);
}

TEST(NotifyReplyTest, AlipayRepliesAreExactWords) {
    providers::Providers all(Config{});
    const providers::Provider* zfb = all.Find("zfb");
    EXPECT_EQ(zfb->NotificationReply(providers::NotifyAnswer::kAccepted).body, "success");
    EXPECT_EQ(zfb->NotificationReply(providers::NotifyAnswer::kRefused).body, "fail");
    EXPECT_EQ(zfb->NotificationReply(providers::NotifyAnswer::kMalformed).body, "fail");
    EXPECT_EQ(zfb->NotificationReply(providers::NotifyAnswer::kError).status, 500);
}

TEST(NotifyParseTest, WechatNamesItsSlip) {
    providers::Providers all(Config{});
    providers::RawNotification raw{
        "POST", "text/xml", {}, "", "<xml><out_trade_no>abc123</out_trade_no></xml>"};
    providers::Notice n = all.Find("wx")->ParseNotification(raw);
    ASSERT_TRUE(n.parsed);
    EXPECT_EQ(n.slip_id, "abc123");
    EXPECT_TRUE(n.may_settle);
    raw.body = "<xml><a>";
    EXPECT_FALSE(all.Find("wx")->ParseNotification(raw).parsed);
}

TEST(NotifyParseTest, AlipayReturnUrlNeverSettles) {
    providers::Providers all(Config{});
    const providers::Provider* zfb = all.Find("zfb");
    providers::RawNotification post{
        "POST", "", {}, "", "notify_type=trade_status_sync&out_trade_no=s1&trade_status=TRADE_SUCCESS"};
    providers::Notice n = zfb->ParseNotification(post);
    ASSERT_TRUE(n.parsed);
    EXPECT_EQ(n.slip_id, "s1");
    EXPECT_TRUE(n.may_settle);
    // A return's signed fields POSTed (no notify_type, or another): no notification (review s28-attack #2).
    for (const char* body :
         {"out_trade_no=s1&trade_status=TRADE_SUCCESS", "notify_type=trade_status_syncx&out_trade_no=s1",
          "method=alipay.trade.page.pay.return&out_trade_no=s1&total_amount=1.00"}) {
        post.body = body;
        n = zfb->ParseNotification(post);
        EXPECT_FALSE(n.parsed) << body;
        EXPECT_TRUE(n.slip_id.empty()) << body;
        EXPECT_NE(n.error.find("notify_type"), std::string::npos) << body;
    }
    providers::RawNotification get{"GET", "", {}, "out_trade_no=s2&total_amount=1.00", ""};
    n = zfb->ParseNotification(get);
    ASSERT_TRUE(n.parsed);
    EXPECT_EQ(n.slip_id, "s2");
    EXPECT_FALSE(n.may_settle);
    EXPECT_TRUE(zfb->AcceptsMethod("GET"));
    EXPECT_FALSE(all.Find("wx")->AcceptsMethod("GET"));
}

store::SlipRow Slip(const std::string& provider, const std::string& merchant) {
    store::SlipRow s;
    s.id = "slip1";
    s.order_id = "order1";
    s.site_id = "demo";
    s.provider = provider;
    s.merchant_id = merchant;
    s.amount = 2500;
    s.currency = "CNY";
    return s;
}

providers::PaidEvent Event() {
    return providers::PaidEvent{"slip1", "txn", 2500, "CNY", "app", "mch", true, false, "SUCCESS"};
}

bool AllOk(const std::vector<app::CheckLine>& lines, std::string* failed = nullptr) {
    for (const auto& l : lines) {
        if (!l.ok) {
            if (failed) *failed = l.name;
            return false;
        }
    }
    return true;
}

// A signature that could not be checked (a key not downloadable now) is decided "error" and
// answered as a temporary failure, whatever the message claims; it never reaches settlement
// (which would need the database this connection never opens).
TEST(DecideTest, AnUncheckedSignatureIsAnErrorNeverActedOn) {
    Config cfg;
    providers::Providers all(cfg);
    const providers::Provider* p = all.Find("paypal");
    ASSERT_NE(p, nullptr);
    db::Connection c("host=/nonexistent dbname=none", {});
    app::NotifyEval ev;
    ev.notice.parsed = true;
    ev.notice.may_settle = true;
    ev.signature_unchecked = true;
    ev.business_ok = true;
    ev.event = Event();
    ev.slip = Slip("paypal", "pp");
    ev.reason = "not checked now: certificate download failed: timeout";
    app::NotifyDecision d = app::Decide(c, *p, ev, "1");
    EXPECT_EQ(d.verdict, "error");
    EXPECT_EQ(d.answer, providers::NotifyAnswer::kError);
    EXPECT_EQ(d.reason, ev.reason);
    // The same message with a refuted signature is refused, as before.
    ev.signature_unchecked = false;
    d = app::Decide(c, *p, ev, "1");
    EXPECT_EQ(d.verdict, "rejected");
    EXPECT_EQ(d.answer, providers::NotifyAnswer::kRefused);
}

TEST(BusinessChecksTest, MatchingSlipPasses) {
    providers::Merchant m{"wx-demo", "wx", "app", "mch", "MD5", "", "{}"};
    EXPECT_TRUE(AllOk(app::BusinessChecks("wx", Event(), m, Slip("wx", "wx-demo"), "demo")));
}

TEST(BusinessChecksTest, EachMismatchFailsByName) {
    providers::Merchant m{"wx-demo", "wx", "app", "mch", "MD5", "", "{}"};
    std::string failed;
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", Event(), m, Slip("zfb", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "provider");
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", Event(), m, Slip("wx", "wx-other"), "demo"), &failed));
    EXPECT_EQ(failed, "merchant");
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", Event(), m, Slip("wx", "wx-demo"), "other"), &failed));
    EXPECT_EQ(failed, "site");
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", Event(), m, std::nullopt, "demo"), &failed));
    EXPECT_EQ(failed, "slip");
    providers::PaidEvent ev = Event();
    ev.amount = 2501;
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "amount");
    ev.amount = -1;  // what the parsers give for an amount they cannot read
    std::vector<app::CheckLine> lines = app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo");
    EXPECT_FALSE(AllOk(lines, &failed));
    EXPECT_EQ(failed, "amount");
    for (const auto& l : lines) {
        if (l.name == "amount") {
            EXPECT_EQ(l.detail, "notified no readable amount, slip 2500");
        }
    }
    ev = Event();
    ev.currency = "USD";
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "currency");
    ev = Event();
    ev.app_id = "other";
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "app_id");
    ev = Event();
    ev.mch_id = "other";
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "mch_id");
    ev = Event();
    ev.slip_id = "slip2";  // signed for another slip than the one looked up
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "out_trade_no");
}

// An id the message leaves out is no match, not even for a merchant with none on record (`notify
// verify` without a site or slip): it once printed "PASS app_id: notified , merchant ".
TEST(BusinessChecksTest, AnIdTheMessageLeavesOutFailsAndSaysSo) {
    auto line = [](const std::vector<app::CheckLine>& lines, const std::string& name) {
        for (const auto& l : lines)
            if (l.name == name) return l;
        ADD_FAILURE() << "no check " << name;
        return app::CheckLine{};
    };
    providers::Merchant none{"(none)", "paypal", "", "", "", "", "{}"};
    providers::PaidEvent ev = Event();
    ev.app_id = ev.mch_id = ev.slip_id = "";
    std::vector<app::CheckLine> lines = app::BusinessChecks("paypal", ev, none, std::nullopt, "");
    EXPECT_FALSE(line(lines, "app_id").ok);
    EXPECT_EQ(line(lines, "app_id").detail, "none notified, no merchant on record to compare with");
    EXPECT_FALSE(line(lines, "mch_id").ok);
    EXPECT_FALSE(line(lines, "out_trade_no").ok);
    EXPECT_EQ(line(lines, "out_trade_no").detail, "none signed");
    EXPECT_EQ(line(lines, "slip").detail, "the notification names no slip");
    providers::Merchant m{"wx-demo", "wx", "app", "mch", "MD5", "", "{}"};
    ev = Event();
    ev.app_id = "";
    lines = app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo");
    EXPECT_FALSE(line(lines, "app_id").ok);
    EXPECT_EQ(line(lines, "app_id").detail, "none notified, merchant app");
    for (const auto& l : lines) EXPECT_NE(l.detail.back(), ' ') << l.name;
}

// A signed id is still the provider's text: what libpq would cut (NUL) or PostgreSQL refuse (not
// UTF-8, past the index row limit) never reaches a statement.
TEST(BusinessChecksTest, UnusableTransactionOrEventIdFails) {
    providers::Merchant m{"wx-demo", "wx", "app", "mch", "MD5", "", "{}"};
    std::string failed;
    for (std::string bad : {std::string(),
                            std::string("4200\0"
                                        "456",
                                        8),
                            std::string("42\xff"), std::string(129, '4'), std::string("42\r\nX")}) {
        providers::PaidEvent ev = Event();
        ev.txn_id = bad;
        EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
        EXPECT_EQ(failed, "transaction_id");
        if (bad.empty()) continue;  // an absent event id is not checked
        ev = Event();
        ev.event_id = bad;
        EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
        EXPECT_EQ(failed, "event_id");
    }
    providers::PaidEvent ev = Event();
    ev.txn_id = std::string(128, '4');
    ev.event_id = "WH-1";
    EXPECT_TRUE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo")));
}

// A refund's result names a part of the slip's amount: checked against the refund (app/refund),
// not the slip's total; every binding check still applies.
TEST(BusinessChecksTest, ARefundResultIsNotHeldToTheSlipAmount) {
    providers::Merchant m{"wx-demo", "wx", "app", "mch", "MD5", "", "{}"};
    providers::PaidEvent ev = Event();
    ev.paid = false;
    ev.amount = 750;
    ev.refund = providers::PaidEvent::Refund{"rf1", "503", 750, true, false};
    EXPECT_TRUE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo")));
    std::string failed;
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-other"), "demo"), &failed));
    EXPECT_EQ(failed, "merchant");
    ev.mch_id = "other";
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "mch_id");
    // Without the refund part the same amount is a payment that does not match the slip.
    ev = Event();
    ev.amount = 750;
    EXPECT_FALSE(AllOk(app::BusinessChecks("wx", ev, m, Slip("wx", "wx-demo"), "demo"), &failed));
    EXPECT_EQ(failed, "amount");
}

TEST(RecordIdTest, SchemaCharsetOnly) {
    EXPECT_TRUE(domain::IsOrderId("abc123"));
    EXPECT_TRUE(domain::IsOrderId(std::string(32, 'a')));
    EXPECT_FALSE(domain::IsOrderId(std::string(33, 'a')));
    EXPECT_FALSE(domain::IsOrderId(""));
    EXPECT_FALSE(domain::IsOrderId("ABC"));
    EXPECT_FALSE(domain::IsOrderId(std::string("ab\0c", 4)));
    EXPECT_FALSE(domain::IsOrderId("\xff"));
}

}  // namespace
}  // namespace orderpay

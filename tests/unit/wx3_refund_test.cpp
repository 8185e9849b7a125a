// Unit tests for WeChat Pay v3 refunds' pure parts: the request body (total = what was paid,
// reason cut to 80 characters, ids WeChat takes), the reading of a Refund object (every
// status, an answer about another refund), how a failed call is classed (unknown vs refused),
// and REFUND.* notifications through Parse/Open/Verify, signed and sealed here with the
// wechatpay-go test key (skipped without ../shared/vectors), including a tampered one.
#include <gtest/gtest.h>

#include <ctime>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/v3.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "test_keys.hpp"

namespace orderpay::wxpay {
namespace {

// OpenNotification with the allowance a slip's own merchant gets (one certificate fetch).
template <typename P>
bool OpenWithOneFetch(const P& p, const providers::Merchant& m, providers::Notice& n, std::string& why) {
    providers::KeyFetches fetches;
    return p.OpenNotification(m, n, why, fetches) == providers::OpenOutcome::kOpened;
}

using S = providers::RefundResult::State;

providers::RefundParams Params() {
    providers::RefundParams p;
    p.refund_id = "rf0001";
    p.slip_id = "sl0001";
    p.amount = 300;
    p.paid_amount = 1000;
    p.currency = "CNY";
    p.reason = "damaged";
    p.notify_url = "https://shop.example/api/s/pay/re_wx";
    return p;
}

TEST(Wx3Refund, Body) {
    EXPECT_EQ(
        V3RefundBody(Params()),
        "{\"out_trade_no\":\"sl0001\",\"out_refund_no\":\"rf0001\",\"reason\":\"damaged\","
        "\"notify_url\":\"https://shop.example/api/s/pay/re_wx\",\"amount\":{\"refund\":300,\"total\":1000,"
        "\"currency\":\"CNY\"}}");
    providers::RefundParams p = Params();
    p.reason.clear();
    p.notify_url.clear();
    EXPECT_EQ(
        V3RefundBody(p),
        "{\"out_trade_no\":\"sl0001\",\"out_refund_no\":\"rf0001\",\"amount\":{\"refund\":300,\"total\":1000,"
        "\"currency\":\"CNY\"}}");
    p = Params();
    p.reason.clear();
    for (int i = 0; i < 100; ++i) p.reason += "退";
    const std::string body = V3RefundBody(p);
    std::string cut;
    for (int i = 0; i < 80; ++i) cut += "退";
    EXPECT_NE(body.find("\"reason\":\"" + cut + "\""), std::string::npos);
    p = Params();
    p.amount = 1001;  // more than was paid
    EXPECT_EQ(V3RefundBody(p), "");
    p = Params();
    p.refund_id = "rf 1";
    EXPECT_EQ(V3RefundBody(p), "");
    p = Params();
    p.slip_id = "";
    EXPECT_EQ(V3RefundBody(p), "");
}

std::string RefundObject(const std::string& status, const std::string& out_refund_no = "rf0001") {
    return "{\"refund_id\":\"50000000382019052709732678859\",\"out_refund_no\":\"" + out_refund_no +
           "\",\"transaction_id\":\"4200\",\"out_trade_no\":\"sl0001\",\"status\":\"" + status +
           "\",\"amount\":{\"total\":1000,\"refund\":300,\"payer_total\":1000,\"payer_refund\":300,"
           "\"currency\":\"CNY\"}}";
}

TEST(Wx3Refund, Answer) {
    providers::RefundResult r = V3RefundAnswer(RefundObject("SUCCESS"), Params());
    EXPECT_EQ(r.state, S::kOk);
    EXPECT_EQ(r.provider_refund_id, "50000000382019052709732678859");
    EXPECT_EQ(r.amount, 300);
    EXPECT_EQ(V3RefundAnswer(RefundObject("PROCESSING"), Params()).state, S::kProcessing);
    // ABNORMAL: WeChat took the money from the merchant and holds it; only CLOSED frees it.
    providers::RefundResult abnormal = V3RefundAnswer(RefundObject("ABNORMAL"), Params());
    EXPECT_EQ(abnormal.state, S::kProcessing);
    EXPECT_TRUE(abnormal.stuck);
    EXPECT_FALSE(V3RefundAnswer(RefundObject("PROCESSING"), Params()).stuck);
    EXPECT_EQ(V3RefundAnswer(RefundObject("CLOSED"), Params()).state, S::kFailed);
    EXPECT_EQ(V3RefundAnswer(RefundObject("SUCCESS", "rf0002"), Params()).state, S::kUnknown);
    EXPECT_EQ(V3RefundAnswer("[]", Params()).state, S::kUnknown);
    // An amount in another currency, not an integer or missing is not ours: -1, never believed.
    std::string usd = RefundObject("SUCCESS");
    usd.replace(usd.find("\"CNY\""), 5, "\"USD\"");
    EXPECT_EQ(V3RefundAnswer(usd, Params()).amount, -1);
    std::string text = RefundObject("SUCCESS");
    text.replace(text.find("\"refund\":300"), 12, "\"refund\":\"300\"");
    EXPECT_EQ(V3RefundAnswer(text, Params()).amount, -1);
}

TEST(Wx3Refund, Failures) {
    EXPECT_EQ(V3RefundFailure(true, 0, "", "http: timeout").state, S::kUnknown);
    EXPECT_EQ(V3RefundFailure(true, 500, "SYSTEM_ERROR", "").state, S::kUnknown);
    EXPECT_EQ(V3RefundFailure(false, 429, "FREQUENCY_LIMITED", "").state, S::kUnknown);
    EXPECT_EQ(V3RefundFailure(false, 400, "INVALID_REQUEST", "over").state, S::kFailed);
    EXPECT_EQ(V3RefundFailure(false, 403, "NOT_ENOUGH", "balance").state, S::kFailed);
    EXPECT_EQ(V3RefundFailure(false, 0, "", "http: refused").state, S::kFailed);  // never arrived
}

using test::SharedDir;
using test::VectorPath;

constexpr const char* kApiV3Key = "0123456789abcdef0123456789abcdef";

providers::Merchant Merchant() {
    return providers::Merchant{
        "wx3-test",
        "wx",
        "wxd678efh567hg6787",
        "1230000109",
        "RSA2",
        kApiV3Key,
        "{\"api\":\"v3\",\"private_key_file\":" + http::JsonString(VectorPath("wx_go_test_private_key.pem")) +
            ",\"cert_serial\":\"D7CE59D1F522D701\",\"wechatpay_public_key_file\":" +
            http::JsonString(VectorPath("wx_go_test_cert.pem")) +
            ",\"wechatpay_public_key_id\":\"D7CE59D1F522D701\"}"};
}

// A REFUND.* notification signed with the test key (the "WeChat Pay public key" of Merchant()).
providers::RawNotification RefundNotice(const std::string& event, const std::string& status, bool tamper,
                                        const std::string& refund = "300") {
    std::string err;
    crypto::PKey key =
        crypto::PrivateKeyFromPem(*crypto::ReadSmallFile(VectorPath("wx_go_test_private_key.pem"), err), err);
    const std::string plain =
        "{\"mchid\":\"1230000109\",\"out_trade_no\":\"sl0001\",\"transaction_id\":\"4200\","
        "\"out_refund_no\":\"rf0001\",\"refund_id\":\"50000000382019052709732678859\",\"refund_status\":\"" +
        status + "\",\"amount\":{\"total\":1000,\"refund\":" + refund +
        ",\"payer_total\":1000,\"payer_refund\":" + refund + "}}";
    const std::string ct = v3::EncryptResource(kApiV3Key, "n0nce0n0nce0", "refund", plain);
    std::string body = "{\"id\":\"EV-1\",\"event_type\":\"" + event +
                       "\",\"resource_type\":\"encrypt-resource\",\"resource\":{\"original_type\":\"refund\","
                       "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"" +
                       ct + "\",\"associated_data\":\"refund\",\"nonce\":\"n0nce0n0nce0\"}}";
    const std::string ts = std::to_string(std::time(nullptr));
    const std::string sig = v3::SignAnswer(key, ts, "abc", body);
    if (tamper) body.insert(body.find("EV-1") + 4, "x");  // signed bytes changed after signing
    providers::RawNotification raw;
    raw.method = "POST";
    raw.content_type = "application/json";
    raw.headers = {{"HTTP_WECHATPAY_TIMESTAMP", ts},
                   {"HTTP_WECHATPAY_NONCE", "abc"},
                   {"HTTP_WECHATPAY_SERIAL", "D7CE59D1F522D701"},
                   {"HTTP_WECHATPAY_SIGNATURE", sig}};
    raw.body = body;
    return raw;
}

#define NEED_VECTORS()                                                                  \
    std::string vector_err;                                                             \
    if (!crypto::ReadSmallFile(VectorPath("wx_go_test_private_key.pem"), vector_err) || \
        !crypto::ReadSmallFile(VectorPath("wx_go_test_cert.pem"), vector_err))          \
    GTEST_SKIP() << "wx_go_test_* not found in " << SharedDir() << "/vectors; set ORDERPAY_SHARED"

TEST(Wx3Refund, NotificationMapsToRefundEvent) {
    NEED_VECTORS();
    WxPayV3 p(WxOptions{});
    const providers::Merchant m = Merchant();
    struct Case {
        const char* event;
        const char* status;
        bool ok, failed, stuck;
    };
    for (const Case& c :
         {Case{"REFUND.SUCCESS", "SUCCESS", true, false, false},
          Case{"REFUND.ABNORMAL", "ABNORMAL", false, false, true},
          Case{"REFUND.CLOSED", "CLOSED", false, true, false},
          Case{"REFUND.ABNORMAL", "CLOSED", false, false, false},    // type and status disagree
          Case{"REFUND.SUCCESS", "CLOSED", false, false, false}}) {  // type and status disagree
        providers::Notice n = p.ParseNotification(RefundNotice(c.event, c.status, false));
        ASSERT_TRUE(n.parsed) << n.error;
        std::string reason;
        ASSERT_TRUE(OpenWithOneFetch(p, m, n, reason)) << reason;
        EXPECT_EQ(n.slip_id, "sl0001");
        providers::PaidEvent ev;
        ASSERT_TRUE(p.VerifyNotification(m, n, ev, reason)) << reason;
        EXPECT_FALSE(ev.paid);
        EXPECT_FALSE(ev.closed);
        ASSERT_TRUE(ev.refund);
        EXPECT_EQ(ev.refund->refund_id, "rf0001");
        EXPECT_EQ(ev.refund->provider_refund_id, "50000000382019052709732678859");
        EXPECT_EQ(ev.refund->amount, 300);
        EXPECT_FALSE(ev.refund->amount_unreadable);
        EXPECT_EQ(ev.refund->paid_total, 1000);
        EXPECT_EQ(ev.refund->ok, c.ok) << c.event << "/" << c.status;
        EXPECT_EQ(ev.refund->failed, c.failed) << c.event << "/" << c.status;
        EXPECT_EQ(ev.refund->stuck, c.stuck) << c.event << "/" << c.status;
        EXPECT_EQ(ev.mch_id, "1230000109");
        EXPECT_EQ(ev.slip_id, "sl0001");
    }
}

// A refund notice always states what went back: none at all (0) was read as "not reported" and
// the refund finished on it (session 35); missing or not an integer is no amount either.
TEST(Wx3Refund, NotificationRefundAmountZeroOrMissingIsUnreadable) {
    NEED_VECTORS();
    WxPayV3 p(WxOptions{});
    const providers::Merchant m = Merchant();
    for (const char* refund : {"0", "-300", "\"300\"", "300.5"}) {
        providers::Notice n = p.ParseNotification(RefundNotice("REFUND.SUCCESS", "SUCCESS", false, refund));
        ASSERT_TRUE(n.parsed) << n.error;
        std::string reason;
        ASSERT_TRUE(OpenWithOneFetch(p, m, n, reason)) << reason;
        providers::PaidEvent ev;
        ASSERT_TRUE(p.VerifyNotification(m, n, ev, reason)) << reason;
        ASSERT_TRUE(ev.refund);
        EXPECT_TRUE(ev.refund->amount_unreadable) << refund;
    }
}

TEST(Wx3Refund, TamperedNotificationRefused) {
    NEED_VECTORS();
    WxPayV3 p(WxOptions{});
    providers::Notice n = p.ParseNotification(RefundNotice("REFUND.SUCCESS", "SUCCESS", true));
    ASSERT_TRUE(n.parsed) << n.error;
    std::string reason;
    EXPECT_FALSE(OpenWithOneFetch(p, Merchant(), n, reason));
    providers::PaidEvent ev;
    EXPECT_FALSE(p.VerifyNotification(Merchant(), n, ev, reason));
    EXPECT_FALSE(ev.refund);
}

}  // namespace
}  // namespace orderpay::wxpay

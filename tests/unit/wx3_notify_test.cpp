// Unit tests for the WeChat Pay v3 notification path of the wx provider: V-WX3-2 end to end
// through ParseNotification / OpenNotification / VerifyNotification (clock injected through
// received_at), and refusals: stale, unknown serial, v2 merchant, wrong APIv3 key, missing
// headers, malformed bodies; the 204 / JSON FAIL replies and how a request is told to be v3.
#include <gtest/gtest.h>

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

using test::SharedDir;
using test::VectorPath;

bool HaveVectors() {
    std::string err;
    return crypto::ReadSmallFile(VectorPath("wx_go_test_cert.pem"), err) &&
           crypto::ReadSmallFile(VectorPath("wx_go_test_private_key.pem"), err) &&
           crypto::ReadSmallFile(VectorPath("selfmade_vectors.json"), err);
}

#define NEED_VECTORS()                                                                  \
    if (!HaveVectors())                                                                 \
    GTEST_SKIP() << "wx_go_test_* / selfmade_vectors.json not found in " << SharedDir() \
                 << "/vectors; set ORDERPAY_SHARED to run this test"

// A v3 merchant whose "WeChat Pay public key" is the wechatpay-go test certificate, named by
// `key_id` (public-key mode: the serial in the headers must equal it).
providers::Merchant Merchant(const std::string& apiv3_key, const std::string& key_id = "D7CE59D1F522D701",
                             const std::string& id = "wx3-test") {
    return providers::Merchant{
        id,
        "wx",
        "wxd678efh567hg6787",
        "1230000109",
        "RSA2",
        apiv3_key,
        "{\"api\":\"v3\",\"private_key_file\":" + http::JsonString(VectorPath("wx_go_test_private_key.pem")) +
            ",\"cert_serial\":\"D7CE59D1F522D701\",\"wechatpay_public_key_file\":" +
            http::JsonString(VectorPath("wx_go_test_cert.pem")) +
            ",\"wechatpay_public_key_id\":" + http::JsonString(key_id) + "}"};
}

struct V2Vector {
    std::string body, ts, nonce, serial, sig, key;
};

V2Vector LoadV2() {
    std::string err;
    rapidjson::Document d;
    EXPECT_TRUE(
        http::ParseJson(*crypto::ReadSmallFile(VectorPath("selfmade_vectors.json"), err), d, {1 << 20, 16})
            .empty());
    const rapidjson::Value& n = d["wx_v3_notify"];
    const rapidjson::Value& h = n["headers"];
    return {n["body"].GetString(),
            h["Wechatpay-Timestamp"].GetString(),
            h["Wechatpay-Nonce"].GetString(),
            h["Wechatpay-Serial"].GetString(),
            h["Wechatpay-Signature"].GetString(),
            n["apiv3_key"].GetString()};
}

providers::RawNotification Raw(const V2Vector& v, std::int64_t received_at) {
    providers::RawNotification raw;
    raw.method = "POST";
    raw.content_type = "application/json";
    raw.headers = {{"HTTP_WECHATPAY_TIMESTAMP", v.ts},
                   {"HTTP_WECHATPAY_NONCE", v.nonce},
                   {"HTTP_WECHATPAY_SERIAL", v.serial},
                   {"HTTP_WECHATPAY_SIGNATURE", v.sig},
                   {"HTTP_WECHATPAY_SIGNATURE_TYPE", "WECHATPAY2-SHA256-RSA2048"}};
    raw.body = v.body;
    raw.received_at = received_at;
    return raw;
}

TEST(Wx3Notify, VectorV2SettlesThroughTheProvider) {
    NEED_VECTORS();
    const V2Vector v = LoadV2();
    WxPayV3 p(WxOptions{});
    providers::RawNotification raw = Raw(v, 1704081606 + 10);
    ASSERT_TRUE(IsV3Request(raw));
    providers::Notice n = p.ParseNotification(raw);
    ASSERT_TRUE(n.parsed) << n.error;
    EXPECT_TRUE(n.sealed);
    EXPECT_TRUE(n.slip_id.empty());  // sealed until opened
    const providers::Merchant m = Merchant(v.key);
    std::string reason;
    ASSERT_TRUE(OpenWithOneFetch(p, m, n, reason)) << reason;
    EXPECT_EQ(n.slip_id, "ORDER20240101000001");
    providers::PaidEvent ev;
    ASSERT_TRUE(p.VerifyNotification(m, n, ev, reason)) << reason;
    EXPECT_TRUE(ev.paid);
    EXPECT_EQ(ev.slip_id, "ORDER20240101000001");
    EXPECT_EQ(ev.txn_id, "4200000000202401010000000001");
    EXPECT_EQ(ev.app_id, "wxd678efh567hg6787");
    EXPECT_EQ(ev.mch_id, "1230000109");
    EXPECT_EQ(ev.amount, 100);
    EXPECT_EQ(ev.currency, "CNY");
    EXPECT_EQ(ev.status, "TRANSACTION.SUCCESS/SUCCESS");
}

TEST(Wx3Notify, RefusesStaleUnknownSerialWrongKeyAndV2Merchant) {
    NEED_VECTORS();
    const V2Vector v = LoadV2();
    WxPayV3 p(WxOptions{});
    std::string reason;
    providers::PaidEvent ev;
    // Five minutes after it was sent (as received, whatever the replay time).
    providers::Notice stale = p.ParseNotification(Raw(v, 1704081606 + 300));
    EXPECT_FALSE(p.VerifyNotification(Merchant(v.key), stale, ev, reason));
    EXPECT_NE(reason.find("not within 5 minutes"), std::string::npos) << reason;
    providers::Notice n = p.ParseNotification(Raw(v, 1704081606));
    // A merchant whose public key has another id: the serial names nobody it knows.
    EXPECT_FALSE(OpenWithOneFetch(p, Merchant(v.key, "PUB_KEY_ID_OTHER", "wx3-other"), n, reason));
    EXPECT_NE(reason.find("unknown Wechatpay-Serial D7CE59D1F522D701"), std::string::npos) << reason;
    // The right signature but another APIv3 key: the resource does not open.
    EXPECT_FALSE(p.VerifyNotification(Merchant("0123456789abcdef0123456789abcdeX"), n, ev, reason));
    EXPECT_NE(reason.find("does not decrypt"), std::string::npos) << reason;
    // A v2 merchant never vouches for a v3 notification.
    providers::Merchant v2{"wx-v2", "wx", "wxd678efh567hg6787", "1230000109", "MD5", v.key, "{}"};
    EXPECT_FALSE(p.VerifyNotification(v2, n, ev, reason));
    EXPECT_NE(reason.find("v3 notification for v2 merchant"), std::string::npos) << reason;
    // Both are strangers to the notice, which the inbox does not report before the addressee's
    // reason; a merchant whose key opens it but whose serial is unknown is refused.
    providers::KeyFetches none{true, 0};
    EXPECT_EQ(p.OpenNotification(v2, n, reason, none), providers::OpenOutcome::kNotAddressed);
    EXPECT_EQ(p.OpenNotification(Merchant("0123456789abcdef0123456789abcdeX"), n, reason, none),
              providers::OpenOutcome::kNotAddressed);
    EXPECT_EQ(p.OpenNotification(Merchant(v.key, "PUB_KEY_ID_OTHER", "wx3-other"), n, reason, none),
              providers::OpenOutcome::kRefused);
    // One byte of body changed: the signature no longer holds, nothing is decrypted.
    V2Vector changed = v;
    changed.body.replace(changed.body.find("TRANSACTION.SUCCESS"), 19, "TRANSACTION.REFUND.");
    providers::Notice c = p.ParseNotification(Raw(changed, 1704081606));
    ASSERT_TRUE(c.parsed);
    EXPECT_FALSE(p.VerifyNotification(Merchant(v.key), c, ev, reason));
    EXPECT_NE(reason.find("signature invalid"), std::string::npos) << reason;
}

TEST(Wx3Notify, MissingHeadersAndMalformedBodies) {
    NEED_VECTORS();
    const V2Vector v = LoadV2();
    WxPayV3 p(WxOptions{});
    for (const char* drop : {"HTTP_WECHATPAY_TIMESTAMP", "HTTP_WECHATPAY_NONCE", "HTTP_WECHATPAY_SERIAL",
                             "HTTP_WECHATPAY_SIGNATURE"}) {
        providers::RawNotification raw = Raw(v, 1704081606);
        raw.headers.erase(drop);
        providers::Notice n = p.ParseNotification(raw);
        ASSERT_TRUE(n.parsed);
        std::string reason;
        EXPECT_FALSE(OpenWithOneFetch(p, Merchant(v.key), n, reason)) << drop;
        EXPECT_NE(reason.find("are all required"), std::string::npos) << reason;
    }
    for (std::string body : {std::string(""), std::string("{"), std::string("[]"), std::string("{}"),
                             std::string("{\"resource\":\"x\"}"), std::string(70000, ' ')}) {
        providers::RawNotification raw = Raw(v, 1704081606);
        raw.body = body;
        providers::Notice n = p.ParseNotification(raw);
        EXPECT_FALSE(n.parsed) << body.substr(0, 20);
        EXPECT_FALSE(n.error.empty());
        EXPECT_TRUE(n.slip_id.empty());
    }
    providers::RawNotification long_header = Raw(v, 1704081606);
    long_header.headers["HTTP_WECHATPAY_NONCE"] = std::string(2000, 'n');
    EXPECT_FALSE(p.ParseNotification(long_header).parsed);
}

TEST(Wx3Notify, RepliesAndDialect) {
    using A = providers::NotifyAnswer;
    providers::ProviderReply ok = WxPayV3::NotificationReply(A::kAccepted);
    EXPECT_EQ(ok.status, 204);
    EXPECT_TRUE(ok.body.empty());
    EXPECT_TRUE(ok.content_type.empty());
    for (A a : {A::kMalformed, A::kRefused, A::kError}) {
        providers::ProviderReply r = WxPayV3::NotificationReply(a);
        EXPECT_EQ(r.status, a == A::kError ? 500 : 400);
        rapidjson::Document d;
        ASSERT_TRUE(http::ParseJson(r.body, d).empty());
        EXPECT_STREQ(d["code"].GetString(), "FAIL");
        EXPECT_TRUE(d.HasMember("message"));
    }
    providers::RawNotification raw;
    raw.body = "<xml><a>1</a></xml>";
    EXPECT_FALSE(IsV3Request(raw));
    raw.body = "  {\"resource\":{}}";
    EXPECT_TRUE(IsV3Request(raw));
    raw.body = "<xml/>";
    raw.headers["HTTP_WECHATPAY_SERIAL"] = "x";
    EXPECT_TRUE(IsV3Request(raw));
    providers::Merchant m{"a", "wx", "", "", "RSA2", "", "{\"api\":\"v3\"}"};
    EXPECT_TRUE(IsV3(m));
    m.options = "{}";
    EXPECT_FALSE(IsV3(m));
    m.options = "not json";
    EXPECT_FALSE(IsV3(m));
    // Answered from the texts seen before (IsV3 keeps each text's answer): each its own again.
    m.options = "{\"api\":\"v3\"}";
    EXPECT_TRUE(IsV3(m));
    m.options = "{}";
    EXPECT_FALSE(IsV3(m));
    m = {"a", "zfb", "", "", "RSA2", "", "{\"api\":\"v3\"}"};
    EXPECT_FALSE(IsV3(m));
}

}  // namespace
}  // namespace orderpay::wxpay

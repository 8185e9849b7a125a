// Unit tests for PayPal's pure rules (currency precision, CRC32, the signed string, the
// certificate URL allowlist, the CN rule) and webhook verification with the real sandbox
// vector V-PP-1 (read from ../shared/vectors, skipped when absent).
#include <gtest/gtest.h>

#include "orderpay/crypto/rsa.hpp"
#include "orderpay/crypto/x509_chain.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/paypal/webhook.hpp"
#include "test_keys.hpp"

namespace orderpay::paypal {
namespace {

constexpr const char* kTid = "071f7d20-1584-11e7-abf0-6b62a8a99ac4";
constexpr const char* kTime = "2017-03-30T20:04:05Z";
constexpr const char* kWebhook = "96605875FF6516633";
constexpr const char* kSig =
    "aBjgm5/xljRYu3G64Q0axISrP2xcy7WbW1u4UTCKnQvyprOZ1a1BBmqn2Jdr6ce8E76I3Ti/"
    "AL9y4VYSHyGSEaoE6dVQcCDebLbOXLH0fjTAb"
    "Tc1/rmfdWmsk0DPltW84Y8W8jOHe3CLWDOwg5zmozyt+AceG2x5eOiw7mLSycaEoj/5RG+dOIWXnmWcLEArbG3VFshy0wuhZrKuGa9C/"
    "bD4Ku+"
    "Y9gK7Bv5I5IuGRVnTGpcFnVG0KxOyJxccLGyBVCIUMY5IZS7LkmJszQ3HZZFDTNihvgJHECSLwLhzUaysIye5G6CbbLdtAmeeb6wiDci"
    "EAvr2d"
    "Ff+SplOR4Lrng==";

TEST(PaypalCurrency, PrecisionTable) {
    EXPECT_EQ(PaypalDecimals("USD"), 2);
    EXPECT_EQ(PaypalDecimals("EUR"), 2);
    EXPECT_EQ(PaypalDecimals("JPY"), 0);
    EXPECT_EQ(PaypalDecimals("HUF"), 0);
    EXPECT_EQ(PaypalDecimals("TWD"), 0);
    EXPECT_FALSE(PaypalDecimals("KRW"));  // PayPal does not take it
    EXPECT_FALSE(PaypalDecimals("usd"));
    EXPECT_FALSE(PaypalDecimals(""));
}

TEST(PaypalCurrency, FormatAndParse) {
    EXPECT_EQ(FormatAmount(2000, "USD"), "20.00");
    EXPECT_EQ(FormatAmount(1, "USD"), "0.01");
    EXPECT_EQ(FormatAmount(1500, "JPY"), "1500");
    EXPECT_FALSE(FormatAmount(100, "KRW"));
    EXPECT_FALSE(FormatAmount(-1, "USD"));
    EXPECT_EQ(ParseAmount("20.00", "USD"), 2000);
    EXPECT_EQ(ParseAmount("100", "USD"), 10000);
    EXPECT_EQ(ParseAmount("1500", "JPY"), 1500);
    EXPECT_FALSE(ParseAmount("15.5", "JPY"));
    EXPECT_FALSE(ParseAmount("1.001", "USD"));
    EXPECT_FALSE(ParseAmount("-1.00", "USD"));
    EXPECT_FALSE(ParseAmount("1e3", "USD"));
    EXPECT_FALSE(ParseAmount("", "USD"));
    // The one rule for providers' amounts: zeros past the exponent are the same value.
    EXPECT_EQ(ParseAmount("9.000", "USD"), 900);
    EXPECT_EQ(ParseAmount("1500.00", "JPY"), 1500);
    EXPECT_FALSE(ParseAmount("9.001", "USD"));
}

TEST(PaypalCharge, RefusesWhatPaypalCannotTake) {
    PaypalClient p(PaypalOptions{});
    EXPECT_FALSE(p.CheckCharge(2000, "USD"));
    ASSERT_TRUE(p.CheckCharge(2000, "KRW"));
    EXPECT_EQ(p.CheckCharge(2000, "KRW")->kind, providers::ChargeRefusal::Kind::kCurrency);
    ASSERT_TRUE(p.CheckCharge(0, "USD"));
    EXPECT_EQ(p.CheckCharge(0, "USD")->kind, providers::ChargeRefusal::Kind::kAmount);
    EXPECT_FALSE(p.CheckCharge(999999999999, "USD"));  // 9999999999.99
    EXPECT_TRUE(p.CheckCharge(1000000000000, "USD"));  // 10000000000.00: 11 integer digits
}

TEST(PaypalWebhook, Crc32) {
    EXPECT_EQ(Crc32("123456789"), 3421780262u);  // the standard check value
    EXPECT_EQ(Crc32(""), 0u);
    EXPECT_NE(Crc32("a"), Crc32("b"));
}

TEST(PaypalWebhook, Crc32OfVector) {
    VECTOR_OR_SKIP(body, "paypal_webhook_body.json");
    EXPECT_EQ(body->size(), 1636u);
    EXPECT_EQ(Crc32(*body), 3494065244u);
    EXPECT_EQ(SignedString(kTid, kTime, kWebhook, *body),
              "071f7d20-1584-11e7-abf0-6b62a8a99ac4|2017-03-30T20:04:05Z|96605875FF6516633|3494065244");
}

TEST(PaypalWebhook, SignedStringUsesUnsignedDecimal) {
    // CRC32("123456789") has the top bit set: printed signed it would be negative.
    EXPECT_EQ(SignedString("t", "2020-01-01T00:00:00Z", "W", "123456789"),
              "t|2020-01-01T00:00:00Z|W|3421780262");
}

TEST(PaypalWebhook, CertUrlAllowlist) {
    const std::vector<std::string> hosts = {"api-m.paypal.com", "api.sandbox.paypal.com", "127.0.0.1:8443"};
    std::string why;
    EXPECT_TRUE(CertUrlAllowed("https://127.0.0.1:8443/v1/notifications/certs/CERT-paysim", hosts, why));
    EXPECT_FALSE(CertUrlAllowed("https://127.0.0.1:8444/v1/notifications/certs/CERT-paysim", hosts, why));
    EXPECT_TRUE(CertUrlAllowed("https://api-m.paypal.com/v1/notifications/certs/CERT-1", hosts, why));
    EXPECT_TRUE(CertUrlAllowed("https://api.sandbox.paypal.com/v1/notifications/test", hosts, why));
    for (const char* bad : {
             "http://api-m.paypal.com/v1/notifications/certs/CERT-1",       // not https
             "https://evil.example/v1/notifications/certs/CERT-1",          // other host
             "https://api-m.paypal.com.evil.example/cert",                  // suffix trick
             "https://api-m.paypal.com@evil.example/cert",                  // user info
             "https://evil.example@api-m.paypal.com/cert",                  // user info
             "https://api-m.paypal.com:8443/cert",                          // port
             "https://api-m.paypal.com",                                    // no path
             "https://api-m.paypal.com?x=/cert",                            // query before path
             "https://API-M.PAYPAL.COM/cert",                               // not the exact host
             "https://api-m.paypal.com/ce rt",                              // space
             "https://api-m.paypal.com\\@evil.example/cert",                // backslash
             "ftp://api-m.paypal.com/cert",                                 // scheme
             "https://api-m.paypal.com/v1/notifications/certs/CERT-1?n=1",  // another spelling:
             "https://api-m.paypal.com/v1/notifications/certs/CERT-1#1",    // each would be cached
             "https://api-m.paypal.com/v1/notifications/certs/CERT%2D1",    // on its own
             "https://api-m.paypal.com/v1//notifications/certs/CERT-1",
             "https://api-m.paypal.com/v1/./notifications/certs/CERT-1",
             "https://api-m.paypal.com/v1/x/../notifications/certs/CERT-1",
             "https://api-m.paypal.com/v1/notifications/certs/.",
             "",
         }) {
        why.clear();
        EXPECT_FALSE(CertUrlAllowed(bad, hosts, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
    EXPECT_FALSE(CertUrlAllowed("https://api-m.paypal.com/" + std::string(3000, 'a'), hosts, why));
}

TEST(PaypalWebhook, CnRule) {
    const std::string p = "messageverificationcerts", s = ".paypal.com";
    EXPECT_TRUE(CnAllowed("messageverificationcerts.paypal.com", p, s));
    EXPECT_TRUE(CnAllowed("messageverificationcerts.sandbox.paypal.com", p, s));
    EXPECT_FALSE(CnAllowed("messageverificationcerts.paypal.com.evil.example", p, s));
    EXPECT_FALSE(CnAllowed("evil.messageverificationcerts.paypal.com", p, s));
    EXPECT_FALSE(CnAllowed("messageverificationcerts.evilpaypal.co", p, s));
    EXPECT_FALSE(CnAllowed("www.paypal.com", p, s));
    EXPECT_FALSE(CnAllowed("", p, s));
    EXPECT_FALSE(CnAllowed("messageverificationcerts", p, s));  // prefix and suffix may not overlap
    EXPECT_TRUE(CnAllowed("messageverificationcerts.paysim.test", p, ".paysim.test"));
}

TEST(PaypalWebhook, VectorLeafSignature) {
    VECTOR_OR_SKIP(body, "paypal_webhook_body.json");
    VECTOR_OR_SKIP(cert, "paypal_testClientCert.crt");
    crypto::LeafCert leaf = crypto::CheckLeafCert(*cert, "", false);
    ASSERT_TRUE(leaf.ok) << leaf.error;
    EXPECT_EQ(leaf.cn, "messageverificationcerts.sandbox.paypal.com");
    EXPECT_TRUE(crypto::RsaSha256VerifyBase64(leaf.key, SignedString(kTid, kTime, kWebhook, *body), kSig));
    std::string changed = *body;
    changed[100] ^= 1;
    EXPECT_FALSE(crypto::RsaSha256VerifyBase64(leaf.key, SignedString(kTid, kTime, kWebhook, changed), kSig));
    EXPECT_FALSE(crypto::RsaSha256VerifyBase64(
        leaf.key, SignedString(kTid, "2017-03-30T20:04:06Z", kWebhook, *body), kSig));
    EXPECT_FALSE(
        crypto::RsaSha256VerifyBase64(leaf.key, SignedString(kTid, kTime, "WEBHOOK_ID", *body), kSig));
    // The chain and dates are checked on the live path: this leaf expired in 2019.
    EXPECT_FALSE(crypto::CheckLeafCert(*cert, "", true).ok);
}

providers::RawNotification VectorRequest(const std::string& body) {
    providers::RawNotification raw;
    raw.method = "POST";
    raw.content_type = "application/json";
    raw.body = body;
    raw.headers = {{"HTTP_PAYPAL_TRANSMISSION_ID", kTid},
                   {"HTTP_PAYPAL_TRANSMISSION_TIME", kTime},
                   {"HTTP_PAYPAL_TRANSMISSION_SIG", kSig},
                   {"HTTP_PAYPAL_CERT_URL", "https://api.sandbox.paypal.com/v1/notifications/test"},
                   {"HTTP_PAYPAL_AUTH_ALGO", "SHA256withRSA"}};
    return raw;
}

TEST(PaypalWebhook, ProviderVerifiesVectorWithOfflineCert) {
    VECTOR_OR_SKIP(body, "paypal_webhook_body.json");
    VECTOR_OR_SKIP(cert, "paypal_testClientCert.crt");
    PaypalClient p(PaypalOptions{});
    ASSERT_TRUE(p.SetOfflineInput("cert-file", *cert));
    providers::Merchant m{"pp", "paypal", "client", kWebhook, "SHA256withRSA", "secret", "{}"};
    auto verify = [&](const providers::RawNotification& raw, std::string& why) {
        providers::Notice n = p.ParseNotification(raw);
        providers::PaidEvent ev;
        return n.parsed && p.VerifyNotification(m, n, ev, why);
    };
    std::string why;
    EXPECT_TRUE(verify(VectorRequest(*body), why)) << why;
    // Any body byte, any signed header, the algorithm, or the webhook id changed: refused.
    providers::RawNotification raw = VectorRequest(*body);
    raw.body[raw.body.size() - 10] = 'x';
    EXPECT_FALSE(verify(raw, why));
    for (const char* h : {"HTTP_PAYPAL_TRANSMISSION_ID", "HTTP_PAYPAL_TRANSMISSION_TIME"}) {
        raw = VectorRequest(*body);
        raw.headers[h].back() ^= 1;
        EXPECT_FALSE(verify(raw, why)) << h;
    }
    raw = VectorRequest(*body);
    raw.headers["HTTP_PAYPAL_AUTH_ALGO"] = "SHA1withRSA";
    EXPECT_FALSE(verify(raw, why));
    EXPECT_NE(why.find("SHA256withRSA"), std::string::npos);
    raw = VectorRequest(*body);
    raw.headers.erase("HTTP_PAYPAL_TRANSMISSION_SIG");
    EXPECT_FALSE(verify(raw, why));
    m.mch_id = "WEBHOOK_ID";
    EXPECT_FALSE(verify(VectorRequest(*body), why));
    // The CN rule holds on the offline path too.
    PaypalOptions strict;
    strict.cert_cn_suffix = ".paysim.test";
    PaypalClient q(strict);
    q.SetOfflineInput("cert-file", *cert);
    providers::Notice n = q.ParseNotification(VectorRequest(*body));
    providers::PaidEvent ev;
    m.mch_id = kWebhook;
    EXPECT_FALSE(q.VerifyNotification(m, n, ev, why));
    EXPECT_NE(why.find("CN"), std::string::npos);
}

// A certificate that cannot be downloaded now is no evidence of forgery: the webhook is
// "unchecked" (kept as error and resent), and only an answer about the URL itself, or a bad
// certificate, refuses it. Nothing listens on 127.0.0.1:1, so each download fails at once.
TEST(PaypalWebhook, AnUnreachableCertificateLeavesTheSignatureUnchecked) {
    PaypalOptions o;
    o.cert_hosts = {"127.0.0.1:1"};
    o.timeouts.connect_ms = 500;
    o.timeouts.total_ms = 1000;
    PaypalClient p(o);
    providers::Merchant m{"pp", "paypal", "client", kWebhook, "SHA256withRSA", "secret", "{}"};
    const std::string body =
        R"({"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C1","custom_id":"s1",)"
        R"("status":"COMPLETED","amount":{"value":"9.00","currency_code":"USD"}}})";
    auto check = [&](const std::string& url, std::string& why) {
        providers::RawNotification raw = VectorRequest(body);
        raw.headers["HTTP_PAYPAL_CERT_URL"] = url;
        providers::Notice n = p.ParseNotification(raw);
        EXPECT_TRUE(n.parsed);
        providers::PaidEvent ev;
        const providers::SignatureCheck c = p.CheckNotification(m, n, ev, why);
        providers::PaidEvent ev2;
        std::string why2;
        // VerifyNotification is true exactly when the check is kValid: unchecked never passes.
        EXPECT_EQ(p.VerifyNotification(m, n, ev2, why2), c == providers::SignatureCheck::kValid);
        EXPECT_FALSE(ev.paid);
        return c;
    };
    using S = providers::SignatureCheck;
    const std::string base = "https://127.0.0.1:1/v1/notifications/certs/CERT-";
    std::string why;
    EXPECT_EQ(check(base + "a", why), S::kUnchecked);
    EXPECT_NE(why.find("certificate download failed"), std::string::npos) << why;
    // Kept briefly, as unchecked (not "failed within 5 minutes"), and no download spent on it.
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(check(base + "a", why), S::kUnchecked);
        EXPECT_NE(why.find("30 seconds"), std::string::npos) << why;
    }
    // Three more new URLs are downloads of this minute's four; the fifth is not downloaded, and
    // that too is unchecked, not a forgery.
    for (const char* u : {"b", "c", "d"}) {
        EXPECT_EQ(check(base + u, why), S::kUnchecked);
        EXPECT_NE(why.find("certificate download failed"), std::string::npos) << u << ": " << why;
    }
    EXPECT_EQ(check(base + "e", why), S::kUnchecked);
    EXPECT_NE(why.find("not downloaded"), std::string::npos) << why;
    // What never depends on a download is refused as before.
    EXPECT_EQ(check("https://127.0.0.2:1/v1/notifications/certs/CERT-a", why), S::kInvalid);
    providers::RawNotification raw = VectorRequest(body);
    raw.headers.erase("HTTP_PAYPAL_TRANSMISSION_SIG");
    providers::PaidEvent ev;
    EXPECT_EQ(p.CheckNotification(m, p.ParseNotification(raw), ev, why), S::kInvalid);
}

TEST(PaypalWebhook, ParseRefusesMalformed) {
    PaypalClient p(PaypalOptions{});
    providers::RawNotification raw;
    raw.method = "POST";
    for (const char* body :
         {"", "[]", "{", "{\"id\":\"WH-1\"}", "{\"id\":\"WH-1\",\"event_type\":\"X\",\"resource\":5}"}) {
        raw.body = body;
        EXPECT_FALSE(p.ParseNotification(raw).parsed) << body;
    }
    raw.body = std::string(70000, ' ');
    EXPECT_FALSE(p.ParseNotification(raw).parsed);
    raw.method = "GET";
    raw.query = "PayerID=X";
    EXPECT_FALSE(p.ParseNotification(raw).parsed);
    raw.query = "token=5O190127TN364715T&PayerID=X";
    providers::Notice n = p.ParseNotification(raw);
    EXPECT_TRUE(n.parsed);
    EXPECT_FALSE(n.may_settle);
    EXPECT_EQ(n.provider_ref, "5O190127TN364715T");
    EXPECT_TRUE(n.slip_id.empty());
}

// A webhook body POSTed, parsed (and expected to parse).
providers::Notice ParsePosted(const PaypalClient& p, const std::string& body) {
    providers::RawNotification raw;
    raw.method = "POST";
    raw.body = body;
    providers::Notice n = p.ParseNotification(raw);
    EXPECT_TRUE(n.parsed) << body;
    return n;
}

TEST(PaypalWebhook, ParseNamesThePaypalOrderOfACaptureAndOfAnOrderEvent) {
    PaypalClient p(PaypalOptions{});
    auto order_of = [&p](const std::string& body) {
        providers::Notice n = ParsePosted(p, body);
        for (const auto& [k, v] : n.fields)
            if (k == "order_id") return v;
        return std::string("(no field)");
    };
    EXPECT_EQ(
        order_of(
            "{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"id\":\"CAP1\","
            "\"custom_id\":\"S1\",\"supplementary_data\":{\"related_ids\":{\"order_id\":\"ORD1\"}}}}"),
        "ORD1");
    EXPECT_EQ(
        order_of("{\"id\":\"WH-2\",\"event_type\":\"CHECKOUT.ORDER.APPROVED\",\"resource\":{\"id\":\"ORD2\","
                 "\"purchase_units\":[{\"custom_id\":\"S2\"}]}}"),
        "ORD2");
    // Not said, or not a string: nothing to compare, the slip's own checks decide.
    EXPECT_EQ(
        order_of(
            "{\"id\":\"WH-3\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"id\":\"CAP3\"}}"),
        "");
    EXPECT_EQ(
        order_of(
            "{\"id\":\"WH-4\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"id\":\"CAP4\","
            "\"supplementary_data\":{\"related_ids\":{\"order_id\":7}}}}"),
        "");
}

// A chargeback's event names the capture taken back: as PayPal documents it the resource is the
// reversal (a refund of the capture, its `up` link), else the capture itself. Without our slip id
// in it, the capture is what finds the slip.
TEST(PaypalWebhook, ParseNamesTheCaptureAReversalTookBack) {
    PaypalClient p(PaypalOptions{});
    auto parse = [&p](const std::string& body) {
        providers::Notice n = ParsePosted(p, body);
        std::string capture = "(no field)";
        for (const auto& [k, v] : n.fields)
            if (k == "capture_id") capture = v;
        return std::make_pair(capture, n.provider_ref);
    };
    EXPECT_EQ(parse("{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.REVERSED\",\"resource\":{\"id\":"
                    "\"REV1\",\"status\":\"COMPLETED\",\"links\":[{\"rel\":\"up\",\"href\":"
                    "\"https://api-m.paypal.com/v2/payments/captures/CAP1\"}]}}"),
              std::make_pair(std::string("CAP1"), std::string("CAP1")));
    EXPECT_EQ(parse("{\"id\":\"WH-2\",\"event_type\":\"PAYMENT.CAPTURE.REVERSED\",\"resource\":{\"id\":"
                    "\"CAP2\",\"status\":\"REVERSED\",\"custom_id\":\"S2\"}}"),
              std::make_pair(std::string("CAP2"), std::string()));
    // Another event's resource id is no capture taken back.
    EXPECT_EQ(parse("{\"id\":\"WH-3\",\"event_type\":\"PAYMENT.CAPTURE.PENDING\",\"resource\":{\"id\":"
                    "\"CAP3\",\"custom_id\":\"S3\"}}")
                  .first,
              "");
}

}  // namespace
}  // namespace orderpay::paypal

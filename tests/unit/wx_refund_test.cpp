// Unit tests for WeChat Pay v2 refunds' pure parts: req_info (AES-256-ECB keyed by the
// lowercase hex MD5 of the v2 key) against a vector made independently with openssl enc, its
// round trip, the <root> plaintext's parse, and hostile or malformed inputs.
#include <gtest/gtest.h>

#include "orderpay/crypto/aead.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/refund.hpp"

namespace orderpay::wxpay {
namespace {

// OpenNotification with the allowance a slip's own merchant gets (one certificate fetch).
template <typename P>
bool OpenWithOneFetch(const P& p, const providers::Merchant& m, providers::Notice& n, std::string& why) {
    providers::KeyFetches fetches;
    return p.OpenNotification(m, n, why, fetches) == providers::OpenOutcome::kOpened;
}

constexpr const char* kKey = "192006250b4c09247ec02edce69f6a2d";

// printf %s "$PLAIN" | openssl enc -aes-256-ecb -K <hex of md5hex(kKey)> | base64 -w0
constexpr const char* kPlain =
    "<root><out_refund_no><![CDATA[rf123]]></out_refund_no><out_trade_no><![CDATA[s456]]></out_trade_no>"
    "<refund_fee><![CDATA[750]]></refund_fee><refund_id><![CDATA[50000000000000000000000000001]]></refund_id>"
    "<refund_status><![CDATA[SUCCESS]]></refund_status><success_time><![CDATA[2026-12-01 10:00:00]]>"
    "</success_time><total_fee><![CDATA[2500]]></total_fee><transaction_id><![CDATA["
    "4200000000202612010000000001]]></transaction_id></root>";
constexpr const char* kReqInfo =
    "WBzGpzQuNpcFxIlFjUUD9IfkLELJi4eoplD/RlAT4axGd+g8rCiEuUkEJUt+58wa1dAFrSxGLX2FjzErqr3p4+X7tyEV6/2v9z8aUWb5"
    "KoWEHaU5jbKZVou92ikggGREBhUUBzKEtuVKVTb11meMYkQvNSWl+ISLGfa/vT/MHvUxHA6rlNTzoOZZOwotMnuXmWseIUHFFPbwDot/"
    "+rQnnMnlnIKQzbPv1IQS7rwIULAsaCGjqyy+rGxZAz3s2ecd7N1bH2AddKICLetz2ICI+Y7/hnHfAvykr6IvDp0zNKKdEFRkmPkPTlnV"
    "nZsJiZyImf9FXSwzMzGU9s+PLd6xPm9BRB0gQp8QVjN+Dyy+cdHFn1itAMiQLxkv6V4Bpv3gQkxDZUKCUi6PHEV2yMVUyva5m3Vxs5fC"
    "72iFknPIDC1eBgCccOc7+r32+xIjyNGOZFvpF9wZdg2pRzzN0CB+ptcRNxJCZfifViSy+TeYOC5C+ki2JcFKBotROV/Tjgfq+eeTyXqC"
    "RYaBlcYhqbvGn2QILQXs3Jqriz3laUGFW13CexGUn0HUq7zSNMdv6mFy/BcB3Z9W/JlQ+4KolHJy6Q==";

TEST(WxRefundReqInfo, KeyIsLowercaseHexMd5OfTheApiKey) {
    EXPECT_EQ(ReqInfoKey(kKey), "d96eb16afdd491fa1e705096edbc2205");  // md5sum of the key text
}

TEST(WxRefundReqInfo, DecryptsTheOpensslVector) {
    std::string plain, error;
    ASSERT_TRUE(DecryptReqInfo(kKey, kReqInfo, plain, error)) << error;
    EXPECT_EQ(plain, kPlain);
}

TEST(WxRefundReqInfo, EncryptsToTheOpensslVector) {
    EXPECT_EQ(EncryptReqInfo(kKey, kPlain), kReqInfo);  // ECB is deterministic
}

TEST(WxRefundReqInfo, RoundTripsAnyLength) {
    for (std::size_t n : {0, 1, 15, 16, 17, 32, 1000}) {
        const std::string text(n, 'x');
        std::string back, error;
        ASSERT_TRUE(DecryptReqInfo(kKey, EncryptReqInfo(kKey, text), back, error)) << n << ": " << error;
        EXPECT_EQ(back, text);
    }
}

TEST(WxRefundReqInfo, AnotherMerchantsKeyDoesNotOpenIt) {
    std::string plain, error;
    // Another key leaves bad padding (or, 1 in ~256, garbage that is no <root> document).
    const bool opened = DecryptReqInfo("ffffffffffffffffffffffffffffffff", kReqInfo, plain, error);
    if (opened) {
        EXPECT_FALSE(ParseRefundInfo(plain, error).has_value());
    } else {
        EXPECT_TRUE(plain.empty());
        EXPECT_NE(error.find("does not decrypt"), std::string::npos);
    }
}

TEST(WxRefundReqInfo, MalformedInputsAreRefused) {
    std::string plain, error;
    EXPECT_FALSE(DecryptReqInfo(kKey, "", plain, error));
    EXPECT_FALSE(DecryptReqInfo(kKey, "not base64!", plain, error));
    EXPECT_FALSE(DecryptReqInfo(kKey, std::string(kReqInfo).substr(0, 100), plain, error));  // cut mid-block
    EXPECT_FALSE(
        DecryptReqInfo(kKey, crypto::Base64Encode(std::string(15, 'a')), plain, error));  // not whole blocks
    EXPECT_FALSE(DecryptReqInfo(kKey, std::string(20000, 'A'), plain, error));            // over 16 KiB
    EXPECT_NE(error.find("16 KiB"), std::string::npos);
    std::string ct;
    EXPECT_FALSE(crypto::Aes256EcbEncrypt("short key", "x", ct));
}

TEST(WxRefundInfo, ParsesTheDecryptedRoot) {
    std::string error;
    std::optional<RefundInfo> r = ParseRefundInfo(kPlain, error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->out_refund_no, "rf123");
    EXPECT_EQ(r->out_trade_no, "s456");
    EXPECT_EQ(r->refund_id, "50000000000000000000000000001");
    EXPECT_EQ(r->transaction_id, "4200000000202612010000000001");
    EXPECT_EQ(r->total_fee, 2500);
    EXPECT_EQ(r->refund_fee, 750);
    EXPECT_EQ(r->settlement_refund_fee, 750);  // absent: the refund_fee
    EXPECT_EQ(r->refund_status, "SUCCESS");
    EXPECT_EQ(r->success_time, "2026-12-01 10:00:00");
}

TEST(WxRefundInfo, RefusesWhatIsNotARefund) {
    std::string error;
    const std::string ok_fields =
        "<out_refund_no>r</out_refund_no><out_trade_no>s</out_trade_no><total_fee>10</total_fee>"
        "<refund_fee>5</refund_fee>";
    EXPECT_TRUE(
        ParseRefundInfo("<root>" + ok_fields + "<refund_status>CHANGE</refund_status></root>", error));
    EXPECT_TRUE(
        ParseRefundInfo("<root>" + ok_fields + "<refund_status>REFUNDCLOSE</refund_status></root>", error));
    // The payment notification's root, an unknown status, missing ids, bad amounts, a DTD.
    EXPECT_FALSE(
        ParseRefundInfo("<xml>" + ok_fields + "<refund_status>SUCCESS</refund_status></xml>", error));
    EXPECT_FALSE(ParseRefundInfo("<root>" + ok_fields + "<refund_status>DONE</refund_status></root>", error));
    EXPECT_NE(error.find("refund_status"), std::string::npos);
    EXPECT_FALSE(
        ParseRefundInfo("<root><out_trade_no>s</out_trade_no><total_fee>10</total_fee><refund_fee>5"
                        "</refund_fee><refund_status>SUCCESS</refund_status></root>",
                        error));
    EXPECT_FALSE(
        ParseRefundInfo("<root><out_refund_no>r</out_refund_no><out_trade_no>s</out_trade_no>"
                        "<total_fee>10</total_fee><refund_fee>-5</refund_fee>"
                        "<refund_status>SUCCESS</refund_status></root>",
                        error));
    EXPECT_FALSE(
        ParseRefundInfo("<root><out_refund_no>r</out_refund_no><out_trade_no>s</out_trade_no>"
                        "<total_fee>0</total_fee><refund_fee>5</refund_fee>"
                        "<refund_status>SUCCESS</refund_status></root>",
                        error));
    EXPECT_FALSE(ParseRefundInfo("<!DOCTYPE root [<!ENTITY x \"y\">]><root>" + ok_fields +
                                     "<refund_status>SUCCESS</refund_status></root>",
                                 error));
    EXPECT_FALSE(ParseRefundInfo("garbage", error));
}

}  // namespace
}  // namespace orderpay::wxpay

namespace orderpay::wxpay {
namespace {

// The "wx" provider's handling of a refund notification: sealed at parse (the slip is named only
// inside req_info), opened only by the merchant whose key encrypted it, then verified into a
// PaidEvent::refund.
struct RefundNoticeTest : ::testing::Test {
    std::unique_ptr<providers::Provider> wx = MakeProvider(Config());
    providers::Merchant m{"wx-m", "wx", "wxd0000000000demo", "1900000109", "MD5", kKey, "{}"};

    providers::RawNotification Raw(const std::string& req_info, const std::string& mch_id = "1900000109") {
        providers::RawNotification raw;
        raw.method = "POST";
        raw.content_type = "text/xml";
        raw.body =
            "<xml><return_code>SUCCESS</return_code><appid><![CDATA[wxd0000000000demo]]></appid>"
            "<mch_id><![CDATA[" +
            mch_id + "]]></mch_id><nonce_str><![CDATA[n]]></nonce_str><req_info><![CDATA[" + req_info +
            "]]></req_info></xml>";
        return raw;
    }
};

TEST_F(RefundNoticeTest, IsSealedUntilTheMerchantsKeyOpensIt) {
    providers::Notice n = wx->ParseNotification(Raw(kReqInfo));
    ASSERT_TRUE(n.parsed) << n.error;
    EXPECT_TRUE(n.sealed);
    EXPECT_EQ(n.slip_id, "");
    std::string why;
    providers::Merchant stranger = m;
    stranger.api_key = "ffffffffffffffffffffffffffffffff";
    EXPECT_FALSE(OpenWithOneFetch(*wx, stranger, n, why));
    EXPECT_EQ(n.slip_id, "");
    ASSERT_TRUE(OpenWithOneFetch(*wx, m, n, why)) << why;
    EXPECT_EQ(n.slip_id, "s456");

    providers::PaidEvent ev;
    ASSERT_TRUE(wx->VerifyNotification(m, n, ev, why)) << why;
    EXPECT_EQ(ev.slip_id, "s456");
    EXPECT_EQ(ev.mch_id, "1900000109");
    EXPECT_EQ(ev.amount, 2500);  // the trade's total_fee, checked against the slip
    EXPECT_FALSE(ev.paid);
    ASSERT_TRUE(ev.refund.has_value());
    EXPECT_EQ(ev.refund->refund_id, "rf123");
    EXPECT_EQ(ev.refund->provider_refund_id, "50000000000000000000000000001");
    EXPECT_EQ(ev.refund->amount, 750);
    EXPECT_TRUE(ev.refund->ok);
    EXPECT_FALSE(ev.refund->failed);
}

TEST_F(RefundNoticeTest, AnotherMerchantsNoticeOrABrokenOneIsNotOpened) {
    using providers::OpenOutcome;
    std::string why;
    providers::KeyFetches none{true, 0};
    providers::Notice other = wx->ParseNotification(Raw(kReqInfo, "1900000999"));
    // Addressed to another mch_id: a stranger's view, which the inbox does not report first.
    EXPECT_EQ(wx->OpenNotification(m, other, why, none), OpenOutcome::kNotAddressed) << why;
    providers::Notice cut = wx->ParseNotification(Raw(std::string(kReqInfo).substr(0, 64)));
    // Addressed to this merchant and not opening: the addressee's own reason.
    EXPECT_EQ(wx->OpenNotification(m, cut, why, none), OpenOutcome::kRefused) << why;
    providers::PaidEvent ev;
    EXPECT_FALSE(wx->VerifyNotification(m, cut, ev, why));
    EXPECT_FALSE(ev.refund.has_value());
    // A v3 merchant's key never opens a v2 notice.
    providers::Merchant v3 = m;
    v3.options = "{\"api\":\"v3\"}";
    providers::Notice n = wx->ParseNotification(Raw(kReqInfo));
    EXPECT_EQ(wx->OpenNotification(v3, n, why, none), OpenOutcome::kNotAddressed) << why;
    EXPECT_NE(why.find("v3 merchant"), std::string::npos) << why;
}

// REFUNDCLOSE is a failure; CHANGE is not (WeChat took the money and holds it until the merchant
// redirects it), and must not free the amount: stuck, neither ok nor failed.
TEST_F(RefundNoticeTest, ClosedRefundsFailAndChangedOnesAreStuck) {
    const std::string plain = std::string(kPlain);
    for (const char* st : {"REFUNDCLOSE", "CHANGE"}) {
        std::string p = plain;
        p.replace(p.find("SUCCESS"), 7, st);
        providers::Notice n = wx->ParseNotification(Raw(EncryptReqInfo(kKey, p)));
        std::string why;
        ASSERT_TRUE(OpenWithOneFetch(*wx, m, n, why)) << why;
        providers::PaidEvent ev;
        ASSERT_TRUE(wx->VerifyNotification(m, n, ev, why)) << why;
        const bool change = std::string(st) == "CHANGE";
        EXPECT_EQ(ev.refund->failed, !change) << st;
        EXPECT_EQ(ev.refund->stuck, change) << st;
        EXPECT_FALSE(ev.refund->ok) << st;
    }
}

}  // namespace
}  // namespace orderpay::wxpay

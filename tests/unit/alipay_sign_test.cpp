// Unit tests for Alipay signing: PROTOCOLS.md §5 V-ALI-1, V-ALI-2, V-ALI-4, plus responses and GBK.
#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "orderpay/http/form.hpp"
#include "orderpay/providers/alipay/sign.hpp"
#include "test_keys.hpp"

namespace orderpay::alipay {
namespace {

// V-ALI-1: the notification form body exactly as it arrives (PROTOCOLS.md §5).
constexpr std::string_view kNotifyBody =
    "gmt_create=2023-12-21+16%3A26%3A32&charset=utf-8&gmt_payment=2023-12-21+16%3A26%3A43&notify_time=2023-"
    "12-"
    "21+16%3A26%3A45&subject=yansongda%2B%E6%B5%8B%E8%AF%95+-+1&sign=Rs7SszD15WqbdJsGZPN%"
    "2BHpCBcQzBCkJx0ccNeg1rpUx"
    "yTVA1ps2vJ4sLhaa7O%2BlliTj6N1MSGqc8cK6JSs7nPg731RAOfneirtrqrlW2u0m15kWAKrVjgPGLUMtK%2FeT15e%2F6NcxsWra%"
    "2FbsZa"
    "an%2BnFDzO8xceOwy96W%2BqVUtTPfBRBp9Zjryi5oIONOifGMALD284YbNC3qq2eyqVysF%2Bzgk%2B%2FMtuHk2Eh%"
    "2FfL7UbClHQXQ2hD"
    "686Dt8bR949TNMbkWCYXstmjVBO55qF8xhaoF%2Fb5zAe5%2FO%2F13g%2FQlwDXBcF3XwJpbFWrBehoFFCnJhR%2FxXZ0E%"
    "2BD2Vsw1oAQ3"
    "l%2BR2dQ%3D%3D&buyer_id=2088722003899169&invoice_amount=0.01&version=1.0&notify_id="
    "2023122101222162644199160"
    "501632046&fund_bill_list=%5B%7B%22amount%22%3A%220.01%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%"
    "5D&noti"
    "fy_type=trade_status_sync&out_trade_no=1703147160&total_amount=0.01&trade_status=TRADE_SUCCESS&trade_no="
    "2023"
    "122122001499160501589436&auth_app_id=9021000122682882&receipt_amount=0.01&point_amount=0.00&app_id="
    "902100012"
    "2682882&buyer_pay_amount=0.01&sign_type=RSA2&seller_id=2088721003899159";

constexpr std::string_view kNotifyContent =
    "app_id=9021000122682882&auth_app_id=9021000122682882&buyer_id=2088722003899169&buyer_pay_amount=0.01&"
    "charset="
    "utf-8&fund_bill_list=[{\"amount\":\"0.01\",\"fundChannel\":\"ALIPAYACCOUNT\"}]&gmt_create=2023-12-21 "
    "16:26:32"
    "&gmt_payment=2023-12-21 "
    "16:26:43&invoice_amount=0.01&notify_id=2023122101222162644199160501632046&notify_time"
    "=2023-12-21 "
    "16:26:45&notify_type=trade_status_sync&out_trade_no=1703147160&point_amount=0.00&receipt_amount=0"
    ".01&seller_id=2088721003899159&subject=yansongda+测试 - "
    "1&total_amount=0.01&trade_no=20231221220014991605015"
    "89436&trade_status=TRADE_SUCCESS&version=1.0";

// V-ALI-2: the return URL's query string.
constexpr std::string_view kReturnQuery =
    "charset=utf-8&out_trade_no=1703141270&method=alipay.trade.page.pay.return&total_amount=0.01&sign="
    "RJzbs5y7I41B"
    "O9UPnCdq7oWgoInyjELi9Qj6D%2BLAZXVpHTedemAHfVUowuF9iuznGZLxU6Xv1L3ZkzTGxmIfvzontCZNb0%"
    "2BRROqiT41lX91VYd6j4ZcOn"
    "8zsvlCdQSVHmYNJi%2Bw%2F40uHxo1ufRwHxBNtQKsoJCYk5VtZ92pQFvVyE5wPPT6Nolww5WlCAPxcWNby8VAiWT%"
    "2Bd2yxmFm8vZ6yj5rsL"
    "HTR72O76TkEXzOEex6e36Zf8M9YXww7RQbflMfk9eURPHW%2FoQq4hZr%2FlX7%"
    "2FO1nT5vdT4UVFai4V18Xm1KspBun8outJxqlWMIKVxGs"
    "YhIH1E79ORt4wQA7PG1g%3D%3D&trade_no=2023122122001499160501586202&auth_app_id=9021000122682882&version=1."
    "0&app"
    "_id=9021000122682882&sign_type=RSA2&seller_id=2088721003899159&timestamp=2023-12-21+14%3A48%3A44";

constexpr std::string_view kReturnContent =
    "app_id=9021000122682882&auth_app_id=9021000122682882&charset=utf-8&method=alipay.trade.page.pay.return&"
    "out_tr"
    "ade_no=1703141270&seller_id=2088721003899159&timestamp=2023-12-21 "
    "14:48:44&total_amount=0.01&trade_no=202312"
    "2122001499160501586202&version=1.0";

Params MustParse(std::string_view form) {
    std::optional<http::FormPairs> pairs = http::ParseForm(form);
    EXPECT_TRUE(pairs);
    return pairs.value_or(Params{});
}

// Every signed value, with one character changed in turn, must break the signature.
void ExpectEveryValueIsCovered(const Params& good, const crypto::PKey& key) {
    std::string reason;
    ASSERT_TRUE(VerifyNotification(good, key, reason)) << reason;
    int flipped = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
        if (good[i].first == "sign" || good[i].first == "sign_type") continue;
        Params p = good;
        char& c = p[i].second.back();
        c = c == '1' ? '2' : '1';
        EXPECT_FALSE(VerifyNotification(p, key, reason)) << good[i].first << " changed";
        EXPECT_EQ(reason, "signature does not verify");
        ++flipped;
    }
    EXPECT_GE(flipped, 10);
}

TEST(AlipayNotifyTest, SandboxNotificationVerifies) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    const Params p = MustParse(kNotifyBody);
    EXPECT_EQ(NotifySignContent(p), kNotifyContent);
    std::string reason;
    EXPECT_TRUE(VerifyNotification(p, key, reason)) << reason;
    ExpectEveryValueIsCovered(p, key);
}

TEST(AlipayNotifyTest, SignTypeIsNotSigned) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    const Params p = MustParse(kNotifyBody);
    const std::string sign = http::FormValue(p, "sign").value_or("");
    // The request rule (sign_type included) is the wrong one for notifications.
    EXPECT_NE(RequestSignContent(p), NotifySignContent(p));
    EXPECT_FALSE(crypto::RsaSha256VerifyBase64(key, RequestSignContent(p), sign));
}

TEST(AlipayNotifyTest, PlusDecodedAsLiteralPlusFails) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    // Decode the form the wrong way: '+' kept as '+'.
    Params p;
    std::string_view rest = kNotifyBody;
    while (!rest.empty()) {
        const std::string_view seg = rest.substr(0, rest.find('&'));
        rest.remove_prefix(std::min(rest.size(), seg.size() + 1));
        const std::size_t eq = seg.find('=');
        p.emplace_back(*http::PercentDecode(seg.substr(0, eq), false),
                       *http::PercentDecode(seg.substr(eq + 1), false));
    }
    EXPECT_EQ(http::FormValue(p, "subject"), "yansongda+测试+-+1");
    std::string reason;
    EXPECT_FALSE(VerifyNotification(p, key, reason));
}

TEST(AlipayNotifyTest, MissingSignOrWrongSignTypeFails) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    const Params good = MustParse(kNotifyBody);
    std::string reason;
    auto with = [&](std::string_view name, std::optional<std::string> value) {
        Params p;
        for (const auto& kv : good)
            if (kv.first != name) p.push_back(kv);
        if (value) p.emplace_back(std::string(name), *value);
        return p;
    };
    EXPECT_FALSE(VerifyNotification(with("sign", std::nullopt), key, reason));
    EXPECT_EQ(reason, "sign is missing or empty");
    EXPECT_FALSE(VerifyNotification(with("sign", ""), key, reason));
    EXPECT_EQ(reason, "sign is missing or empty");
    EXPECT_FALSE(VerifyNotification(with("sign_type", "RSA"), key, reason));
    EXPECT_EQ(reason, "sign_type is not RSA2");
    // sign_type is optional: without it the same signature still verifies.
    EXPECT_TRUE(VerifyNotification(with("sign_type", std::nullopt), key, reason)) << reason;

    Params repeated = good;
    repeated.emplace_back("total_amount", "0.01");
    EXPECT_FALSE(VerifyNotification(repeated, key, reason));
    EXPECT_EQ(reason, "parameter \"total_amount\" is given more than once");

    // An empty extra parameter is not signed (Alipay never sends one), so it does not matter.
    Params extra = good;
    extra.emplace_back("passback_params", "");
    EXPECT_TRUE(VerifyNotification(extra, key, reason)) << reason;
    // A non-empty extra parameter does.
    extra.back().second = "x";
    EXPECT_FALSE(VerifyNotification(extra, key, reason));
    EXPECT_FALSE(VerifyNotification(good, nullptr, reason));
}

TEST(AlipayNotifyTest, HtmlEscapedFundBillListFails) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    Params p = MustParse(kNotifyBody);
    for (auto& kv : p)
        if (kv.first == "fund_bill_list")
            kv.second =
                "[{&quot;amount&quot;:&quot;0.01&quot;,&quot;fundChannel&quot;:&quot;ALIPAYACCOUNT&quot;}]";
    std::string reason;
    EXPECT_FALSE(VerifyNotification(p, key, reason));
}

TEST(AlipayNotifyTest, SandboxReturnUrlVerifies) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_public_key.pem", crypto::PublicKeyFromPem);
    const Params p = MustParse(kReturnQuery);
    EXPECT_EQ(NotifySignContent(p), kReturnContent);
    ExpectEveryValueIsCovered(p, key);
}

// V-ALI-4.
TEST(AlipayRequestTest, SandboxRequestSignature) {
    VECTOR_KEY_OR_SKIP(key, "alipay_sandbox_app_private_key.pem", crypto::PrivateKeyFromPem);
    const Params p = {
        {"app_id", "9021000122682882"},
        {"method", "alipay.trade.query"},
        {"format", "JSON"},
        {"return_url", "http://hk.ysdor.cn/index.php"},
        {"charset", "utf-8"},
        {"sign_type", "RSA2"},
        {"timestamp", "2023-12-21 06:54:37"},
        {"version", "1.0"},
        {"notify_url", "http://hk.ysdor.cn/index.php"},
        {"app_auth_token", ""},
        {"app_cert_sn", "e90dd23a37c5c7b616e003970817ff82"},
        {"alipay_root_cert_sn", "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"},
        {"biz_content", R"({"out_trade_no":"1703141270"})"},
    };
    EXPECT_EQ(
        RequestSignContent(p),
        "alipay_root_cert_sn=687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6&app_cert_sn="
        "e90dd23a37c5c7b616e003970817ff82&app_id=9021000122682882&biz_content={\"out_trade_no\":"
        "\"1703141270\"}"
        "&charset=utf-8&format=JSON&method=alipay.trade.query&notify_url=http://hk.ysdor.cn/"
        "index.php&return_u"
        "rl=http://hk.ysdor.cn/index.php&sign_type=RSA2&timestamp=2023-12-21 06:54:37&version=1.0");
    const std::string sign = SignRequest(p, key);
    EXPECT_EQ(sign,
              "FrzUwXziVWK2x5glZkGoQ6dGR87O33APv3D/"
              "lWjVqPrFnMwcYjOYyln1B1bw5VuOwokLRmqcwWuTumBg8Q+n4FkVR3DMCvL8ywTBp5+"
              "6pRAETfhFop4m+r6jI+dgOavwyoZ69CWCzCcEyb0vMjgrV2eoSI4bgLjJyPcGpZ+"
              "iDBTSvE6eVxs05bUjainAOB5NnAvME06nkaxGL"
              "B4qwF9c3SQoiZt7QcMRdyy6mRItZxRaEjMm6qX8dfPuuquJC4wpTRk8PQeu5EMR4yyc1atxso3CMovjkGr5LzDtqLNseyq"
              "qorYW+Gfu"
              "3ugHSs9aqkwAAysg79O6TsvuFa9OHq64Tg==");
    // A "sign" already in the map is never part of what is signed.
    Params again = p;
    again.emplace_back("sign", sign);
    EXPECT_EQ(SignRequest(again, key), sign);
}

TEST(AlipayRequestTest, GatewayTimestampIsBeijingTime) {
    EXPECT_EQ(GatewayTimestamp(0), "1970-01-01 08:00:00");
    EXPECT_EQ(GatewayTimestamp(1703112877), "2023-12-21 06:54:37");
    EXPECT_EQ(GatewayTimestamp(1703087999), "2023-12-20 23:59:59");
    EXPECT_EQ(GatewayTimestamp(1703088000), "2023-12-21 00:00:00");
}

TEST(AlipayGbkTest, GbkToUtf8) {
    EXPECT_EQ(GbkToUtf8("\xb2\xe2\xca\xd4"), "测试");
    EXPECT_EQ(GbkToUtf8("abc \xd6\xa7\xb8\xb6\xb1\xa6 1"), "abc 支付宝 1");
    EXPECT_EQ(GbkToUtf8(""), "");
    EXPECT_EQ(GbkToUtf8("\xff"), std::nullopt);
    EXPECT_EQ(GbkToUtf8("\xb2\xe2\xca"), std::nullopt) << "truncated double-byte character";
}

// Our own key for everything Alipay would sign: no third-party key is needed for these.
const crypto::PKey& OwnKey() {
    static const crypto::PKey key(EVP_RSA_gen(2048), CDeleter<EVP_PKEY_free>{});
    return key;
}

TEST(AlipayGbkTest, GbkNotificationVerifiesOverRawBytes) {
    Params p = {{"charset", "GBK"},       {"subject", "\xb2\xe2\xca\xd4"}, {"out_trade_no", "o1"},
                {"total_amount", "0.01"}, {"sign_type", "RSA2"},           {"trade_status", "TRADE_SUCCESS"}};
    p.emplace_back("sign", crypto::RsaSha256SignBase64(OwnKey(), NotifySignContent(p)));
    const Params received = MustParse(http::EncodeForm(p));
    std::string reason;
    ASSERT_TRUE(VerifyNotification(received, OwnKey(), reason)) << reason;
    EXPECT_EQ(GbkToUtf8(*http::FormValue(received, "subject")), "测试");
    // Transcoding before verifying changes the signed bytes (PROTOCOLS.md §4 item 5).
    Params transcoded = received;
    for (auto& kv : transcoded) kv.second = GbkToUtf8(kv.second).value_or("?");
    EXPECT_FALSE(VerifyNotification(transcoded, OwnKey(), reason));
}

constexpr std::string_view kMethod = "alipay.trade.precreate";
constexpr std::string_view kContent =
    R"({"code":"10000","msg":"Success","out_trade_no":"x","qr_code":"https://qr.alipay.com/bax1"})";

// The sign as Alipay's JSON encoder may write it, with "/" escaped.
std::string JsonSign(std::string_view content) {
    std::string out;
    for (char c : crypto::RsaSha256SignBase64(OwnKey(), content)) {
        if (c == '/') out += '\\';
        out += c;
    }
    return out;
}

TEST(AlipayResponseTest, SignedResponseVerifies) {
    const std::string body = R"({"alipay_trade_precreate_response":)" + std::string(kContent) +
                             R"(,"sign":")" + JsonSign(kContent) + R"("})";
    std::string content, reason;
    ASSERT_TRUE(VerifyResponse(body, kMethod, OwnKey(), content, reason)) << reason;
    EXPECT_EQ(content, kContent);
    EXPECT_EQ(ExtractSignedResponse(body, kMethod)->sign, crypto::RsaSha256SignBase64(OwnKey(), kContent));
    EXPECT_FALSE(VerifyResponse(body, "alipay.trade.pay", OwnKey(), content, reason))
        << "other method's node";

    std::string tampered = body;
    tampered.replace(tampered.find("bax1"), 4, "bax2");
    EXPECT_FALSE(VerifyResponse(tampered, kMethod, OwnKey(), content, reason));
    EXPECT_EQ(reason, "response signature does not verify");
}

TEST(AlipayResponseTest, SignFirstWhitespaceAndNesting) {
    const std::string content =
        R"({"code":"10000","x":{"a":"}{\"]","b":[1,{"c":"\\"},[]]},"s":"quote \" brace } \\\" [","n":-1.5e3})";
    const std::string body =
        " {\n \"sign\" : \"" + JsonSign(content) +
        "\",\"alipay_cert_sn\":\"abc\",\"alipay_trade_precreate_response\" : " + content +
        " , \"other\":[{\"}\":true}],\"z\":null}\n";
    const std::optional<SignedResponse> r = ExtractSignedResponse(body, kMethod);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->content, content);
    EXPECT_FALSE(r->is_error_response);
    std::string out, reason;
    EXPECT_TRUE(VerifyResponse(body, kMethod, OwnKey(), out, reason)) << reason;
}

TEST(AlipayResponseTest, ErrorResponse) {
    const std::string err = R"({"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"})";
    const std::string body = R"({"error_response":)" + err + R"(,"sign":")" + JsonSign(err) + R"("})";
    const std::optional<SignedResponse> r = ExtractSignedResponse(body, kMethod);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->is_error_response);
    std::string content, reason;
    bool error_node = false;
    EXPECT_TRUE(VerifyResponse(body, kMethod, OwnKey(), content, reason, &error_node)) << reason;
    EXPECT_EQ(content, err);
    EXPECT_TRUE(error_node) << "the caller must know it is not the method's node";
    EXPECT_TRUE(VerifyResponse(" {\"alipay_trade_precreate_response\":" + std::string(kContent) +
                                   ",\"sign\":\"" + JsonSign(kContent) + "\"}",
                               kMethod, OwnKey(), content, reason, &error_node))
        << reason;
    EXPECT_FALSE(error_node);
    // The method's own node wins when both are present, as in Alipay's Java SDK.
    const std::string both = R"({"error_response":{"code":"1"},"alipay_trade_precreate_response":)" +
                             std::string(kContent) + R"(,"sign":")" + JsonSign(kContent) + R"("})";
    ASSERT_TRUE(ExtractSignedResponse(both, kMethod));
    EXPECT_FALSE(ExtractSignedResponse(both, kMethod)->is_error_response);
    EXPECT_TRUE(VerifyResponse(both, kMethod, OwnKey(), content, reason)) << reason;
}

TEST(AlipayResponseTest, MissingSignFails) {
    const std::string body = R"({"alipay_trade_precreate_response":)" + std::string(kContent) + "}";
    ASSERT_TRUE(ExtractSignedResponse(body, kMethod));
    EXPECT_EQ(ExtractSignedResponse(body, kMethod)->sign, "");
    std::string content = "unchanged", reason;
    EXPECT_FALSE(VerifyResponse(body, kMethod, OwnKey(), content, reason));
    EXPECT_EQ(reason, "response sign is missing or empty");
    EXPECT_EQ(content, "unchanged");
    const std::string empty =
        R"({"alipay_trade_precreate_response":)" + std::string(kContent) + R"(,"sign":""})";
    EXPECT_FALSE(VerifyResponse(empty, kMethod, OwnKey(), content, reason));
}

TEST(AlipayResponseTest, EncryptedStringValueIsTakenWithQuotes) {
    const std::string body = R"({"alipay_trade_query_response":"QUJD+/==","sign":"c2ln"})";
    const std::optional<SignedResponse> r = ExtractSignedResponse(body, "alipay.trade.query");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->content, "\"QUJD+/==\"");
    EXPECT_EQ(r->sign, "c2ln");
}

TEST(AlipayResponseTest, MalformedBodiesAreRejected) {
    const std::string c(kContent);
    const std::vector<std::string> bodies = {
        std::string(),
        std::string("[]"),
        std::string("{}"),
        std::string("null"),
        R"({"alipay_trade_precreate_response":)" + c,                                // unterminated
        R"({"alipay_trade_precreate_response":)" + c + "} x",                        // trailing text
        R"({"alipay_trade_precreate_response":)" + c.substr(0, c.size() - 1) + "}",  // unbalanced
        R"({"alipay_trade_precreate_response":)" + c + R"(,"sign":"a","sign":"b"})",
        R"({"alipay_trade_precreate_response":)" + c + R"(,"alipay_trade_precreate_response":{}})",
        R"({"alipay_trade_precreate_response":10000,"sign":"a"})",
        R"({"alipay_trade_precreate_response":)" + c + R"(,"sign":12})",
        R"({"alipay_trade_precreate_response":)" + c + R"(,"sign":"\x"})",
        R"({"alipay_trade_precreate_response":{"a":"b]"]},"sign":"a"})",
        R"({"alipay_trade_pay_response":)" + c + R"(,"sign":"a"})",
    };
    for (const std::string& body : bodies) {
        EXPECT_FALSE(ExtractSignedResponse(body, kMethod)) << body;
        std::string content, reason;
        EXPECT_FALSE(VerifyResponse(body, kMethod, OwnKey(), content, reason)) << body;
        EXPECT_FALSE(reason.empty());
    }
    EXPECT_FALSE(ExtractSignedResponse(R"({"_response":{}})", ""));
}

TEST(AlipayResponseTest, SignIsUnescapedAsJson) {
    const std::string body = R"({"a_response":{},"sign":"\u0041\/\"\\\n\ud83d\ude00"})";
    const std::optional<SignedResponse> r = ExtractSignedResponse(body, "a");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->sign, "A/\"\\\n\xf0\x9f\x98\x80");
    EXPECT_FALSE(ExtractSignedResponse(R"({"a_response":{},"sign":"\ud83d"})", "a")) << "lone surrogate";
}

}  // namespace
}  // namespace orderpay::alipay

// Unit tests for WeChat Pay API v3 crypto: PROTOCOLS.md §5 V-WX3-1, V-WX3-GCM, V-WX3-2 and
// V-WX3-3, read from ../shared/vectors at run time (skipped with a message when absent), plus
// hostile inputs: probes, tampered bodies, wrong keys, malformed Authorization headers.
#include <gtest/gtest.h>

#include "orderpay/crypto/aead.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "test_keys.hpp"

namespace orderpay::wxpay::v3 {
namespace {

using test::ReadVector;
using test::SharedDir;

// The wechatpay-go test certificate (V-WX3-1) and its private key.
struct GoKeys {
    crypto::PKey pub, priv;
    std::string serial;
};

std::optional<GoKeys> LoadGoKeys() {
    auto cert = ReadVector("wx_go_test_cert.pem");
    auto key = ReadVector("wx_go_test_private_key.pem");
    if (!cert || !key) return std::nullopt;
    std::string err;
    GoKeys k{crypto::PublicKeyFromPem(*cert, err), crypto::PrivateKeyFromPem(*key, err),
             crypto::CertSerialHex(*cert).value_or("")};
    if (!k.pub || !k.priv) return std::nullopt;
    return k;
}

#define GO_KEYS_OR_SKIP(var)                                                                                \
    const std::optional<GoKeys> var = LoadGoKeys();                                                         \
    if (!var)                                                                                               \
    GTEST_SKIP() << "vectors wx_go_test_cert.pem / wx_go_test_private_key.pem not found in " << SharedDir() \
                 << "/vectors; set ORDERPAY_SHARED to run this test"

// selfmade_vectors.json, parsed.
bool LoadSelfmade(rapidjson::Document& doc) {
    auto text = ReadVector("selfmade_vectors.json");
    return text && http::ParseJson(*text, doc, {1 << 20, 16}).empty() && doc.IsObject();
}

std::string Str(const rapidjson::Value& obj, const char* a, const char* b = nullptr) {
    const rapidjson::Value* v = &obj[a];
    if (b != nullptr) v = &(*v)[b];
    return std::string(v->GetString(), v->GetStringLength());
}

constexpr std::string_view kV1Body =
    R"({"id":"3119dfba-e649-5eec-ab1e-3412bc4d2e17","create_time":"2021-06-24T16:37:26+08:00","resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_OPEN_SERVICE","summary":"签约成功","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==","associated_data":"payscore","nonce":"Kj7QIyUiYx1q"}})";
constexpr std::string_view kV1Sig =
    "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/"
    "Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mi"
    "kv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//"
    "rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6y"
    "NJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/"
    "jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBo"
    "utnwZKNiKRACrFmtxw2Q==";

TEST(Wx3Vectors, V1NotificationSignatureAndResource) {
    GO_KEYS_OR_SKIP(keys);
    VECTOR_OR_SKIP(body, "wx_v3_body.txt");
    ASSERT_EQ(*body, kV1Body);  // the file holds the exact bytes, no newline
    EXPECT_EQ(keys->serial, "D7CE59D1F522D701");
    EXPECT_TRUE(VerifyAnswer(keys->pub, "1624523846", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz", *body, kV1Sig));
    // One byte of body, timestamp or nonce changed: no longer verifies.
    std::string changed = *body;
    changed[10] = changed[10] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(VerifyAnswer(keys->pub, "1624523846", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz", changed, kV1Sig));
    EXPECT_FALSE(VerifyAnswer(keys->pub, "1624523847", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz", *body, kV1Sig));
    EXPECT_FALSE(VerifyAnswer(keys->pub, "1624523846", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBy", *body, kV1Sig));
    // The resource, with the 16-byte test key (AES-128-GCM, as the vector says).
    rapidjson::Document d;
    ASSERT_TRUE(http::ParseJson(*body, d).empty());
    std::string plain, err;
    ASSERT_TRUE(DecryptResource("testMchAPIv3Key0", Str(d, "resource", "nonce"),
                                Str(d, "resource", "associated_data"), Str(d, "resource", "ciphertext"),
                                plain, err))
        << err;
    EXPECT_EQ(
        plain,
        R"({"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"})");
    EXPECT_FALSE(DecryptResource("testMchAPIv3Key1", Str(d, "resource", "nonce"),
                                 Str(d, "resource", "associated_data"), Str(d, "resource", "ciphertext"),
                                 plain, err));
    EXPECT_TRUE(plain.empty());
}

TEST(Wx3Vectors, V1SignerKnownAnswer) {
    GO_KEYS_OR_SKIP(keys);
    // wechatpay-go's signer test: PKCS#1 v1.5 is deterministic.
    EXPECT_EQ(
        crypto::RsaSha256SignBase64(keys->priv, "source"),
        "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4j"
        "sKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/"
        "K8V29QiOhuH6IE"
        "qLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/"
        "L+hdw"
        "fLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==");
    EXPECT_TRUE(crypto::KeysMatch(keys->priv, keys->pub));
}

TEST(Wx3Vectors, GcmUnitVector) {
    // V-WX3-GCM is inline in PROTOCOLS.md (no file needed).
    std::string plain, err;
    ASSERT_TRUE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
                                "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err))
        << err;
    EXPECT_EQ(plain, "Hello World");
    EXPECT_FALSE(DecryptResource("testAPIv3Key1111", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
                                 "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err));
    EXPECT_FALSE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
                                 "SGVsbG8gV29ybGQK", plain, err));
    // Wrong AAD or nonce, truncated, not base64, a key of another size.
    EXPECT_FALSE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR9",
                                 "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err));
    EXPECT_FALSE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfh", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
                                 "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err));
    EXPECT_FALSE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfg", "", "AAAA", plain, err));
    EXPECT_FALSE(DecryptResource("testAPIv3Key0000", "wCq51qZv4Yfg", "", "not base64!", plain, err));
    EXPECT_FALSE(
        DecryptResource("short", "wCq51qZv4Yfg", "", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err));
    EXPECT_FALSE(
        DecryptResource("testAPIv3Key0000", "", "", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC", plain, err));
}

TEST(Wx3Vectors, V2TransactionNotification) {
    GO_KEYS_OR_SKIP(keys);
    rapidjson::Document v;
    if (!LoadSelfmade(v)) GTEST_SKIP() << "selfmade_vectors.json not found in " << SharedDir() << "/vectors";
    const rapidjson::Value& n = v["wx_v3_notify"];
    const std::string body = Str(n, "body");
    const std::string ts = Str(n, "headers", "Wechatpay-Timestamp");
    const std::string nonce = Str(n, "headers", "Wechatpay-Nonce");
    const std::string sig = Str(n, "headers", "Wechatpay-Signature");
    EXPECT_EQ(Str(n, "headers", "Wechatpay-Serial"), keys->serial);
    EXPECT_TRUE(VerifyAnswer(keys->pub, ts, nonce, body, sig));
    // The clock is injected: fresh within five minutes either way, stale beyond.
    EXPECT_TRUE(TimestampFresh(ts, 1704081606));
    EXPECT_TRUE(TimestampFresh(ts, 1704081606 + 299));
    EXPECT_TRUE(TimestampFresh(ts, 1704081606 - 299));
    EXPECT_FALSE(TimestampFresh(ts, 1704081606 + 300));
    EXPECT_FALSE(TimestampFresh(ts, 1704081606 - 301));
    for (std::string_view bad : {"", "17040816O6", "-1", "+1704081606", "1704081606 ", "99999999999999"})
        EXPECT_FALSE(TimestampFresh(bad, 1704081606)) << bad;

    rapidjson::Document d;
    ASSERT_TRUE(http::ParseJson(body, d).empty());
    std::string plain, err;
    ASSERT_TRUE(DecryptResource(Str(n, "apiv3_key"), Str(d, "resource", "nonce"),
                                Str(d, "resource", "associated_data"), Str(d, "resource", "ciphertext"),
                                plain, err))
        << err;
    EXPECT_EQ(plain, Str(n, "plaintext"));
    // Encrypting the plaintext again gives the vector's ciphertext (GCM is deterministic per nonce).
    EXPECT_EQ(EncryptResource(Str(n, "apiv3_key"), Str(d, "resource", "nonce"),
                              Str(d, "resource", "associated_data"), plain),
              Str(d, "resource", "ciphertext"));
    // Signing the body again reproduces the header.
    EXPECT_EQ(SignAnswer(keys->priv, ts, nonce, body), sig);
    // The probe traffic WeChat sends must fail cleanly.
    EXPECT_FALSE(VerifyAnswer(keys->pub, ts, nonce, body, "WECHATPAY/SIGNTEST/" + sig));
    EXPECT_FALSE(VerifyAnswer(keys->pub, ts, nonce, body, ""));
    EXPECT_FALSE(VerifyAnswer(keys->pub, "", nonce, body, sig));
}

TEST(Wx3Vectors, V3RequestAuthorizationAndPaySign) {
    GO_KEYS_OR_SKIP(keys);
    rapidjson::Document v;
    if (!LoadSelfmade(v)) GTEST_SKIP() << "selfmade_vectors.json not found in " << SharedDir() << "/vectors";
    const std::string body = Str(v["wx_v3_request"], "body");
    const std::string nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
    EXPECT_EQ(RequestMessage("POST", "/v3/pay/transactions/native", "1704081600", nonce, body),
              Str(v["wx_v3_request"], "message"));
    EXPECT_EQ(Authorization(keys->priv, "1230000109", "D7CE59D1F522D701", "POST",
                            "/v3/pay/transactions/native", "1704081600", nonce, body),
              Str(v["wx_v3_request"], "authorization"));
    const std::string get_url = "/v3/pay/transactions/out-trade-no/ORDER20240101000001?mchid=1230000109";
    EXPECT_EQ(RequestMessage("GET", get_url, "1704081600", nonce, ""),
              Str(v["wx_v3_request_get"], "message"));
    const std::string get_auth =
        Authorization(keys->priv, "1230000109", "D7CE59D1F522D701", "GET", get_url, "1704081600", nonce, "");
    auto parsed = ParseAuthorization(get_auth);
    ASSERT_TRUE(parsed);
    EXPECT_EQ((*parsed)["signature"], Str(v["wx_v3_request_get"], "signature"));
    EXPECT_EQ((*parsed)["mchid"], "1230000109");
    EXPECT_EQ((*parsed)["serial_no"], "D7CE59D1F522D701");
    EXPECT_EQ(JsapiPaySign(keys->priv, "wxd678efh567hg6787", "1704081600", nonce,
                           "prepay_id=wx201410272009395522657a690389285100"),
              Str(v["wx_v3_jsapi_paysign"], "paySign"));
}

TEST(Wx3Authorization, ParsesByNameInAnyOrder) {
    auto a = ParseAuthorization(
        R"(WECHATPAY2-SHA256-RSA2048 serial_no="AB",timestamp="1",signature="c2ln+/=",nonce_str="n",mchid="m")");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->size(), 5u);
    EXPECT_EQ((*a)["signature"], "c2ln+/=");
    EXPECT_TRUE(ParseAuthorization(R"(WECHATPAY2-SHA256-RSA2048 mchid="m", nonce_str="n")"));
}

TEST(Wx3Authorization, RefusesMalformed) {
    for (std::string_view bad : {
             "",
             "WECHATPAY2-SHA256-RSA2048",
             "WECHATPAY2-SHA256-RSA2048 ",
             R"(Bearer mchid="m")",
             R"(WECHATPAY2-SHA256-RSA2048mchid="m")",
             R"(WECHATPAY2-SHA256-RSA2048 mchid=m)",
             R"(WECHATPAY2-SHA256-RSA2048 mchid="m)",
             R"(WECHATPAY2-SHA256-RSA2048 mchid="m",mchid="n")",
             R"(WECHATPAY2-SHA256-RSA2048 MCHID="m")",
             R"(WECHATPAY2-SHA256-RSA2048 ="m")",
             R"(WECHATPAY2-SHA256-RSA2048 mchid="m"x)",
         })
        EXPECT_FALSE(ParseAuthorization(bad)) << bad;
    EXPECT_FALSE(
        ParseAuthorization(std::string("WECHATPAY2-SHA256-RSA2048 a=\"") + std::string(5000, 'x') + "\""));
}

TEST(Wx3Aead, RoundTripAndTamper) {
    const std::string key = "0123456789abcdef0123456789ABCDEF";
    const std::string ct = EncryptResource(key, "nonce0123456", "transaction", R"({"a":1})");
    ASSERT_FALSE(ct.empty());
    std::string plain, err;
    ASSERT_TRUE(DecryptResource(key, "nonce0123456", "transaction", ct, plain, err));
    EXPECT_EQ(plain, R"({"a":1})");
    EXPECT_FALSE(DecryptResource(key, "nonce0123456", "", ct, plain, err));
    EXPECT_FALSE(DecryptResource(key, "nonce0123457", "transaction", ct, plain, err));
    std::string raw;
    ASSERT_TRUE(crypto::Base64Decode(ct, raw));
    raw[0] ^= 1;
    EXPECT_FALSE(DecryptResource(key, "nonce0123456", "transaction", crypto::Base64Encode(raw), plain, err));
    EXPECT_TRUE(EncryptResource("0123456789abcdef0123456789ABCDE", "n", "", "x").empty());  // 31 bytes
}

}  // namespace
}  // namespace orderpay::wxpay::v3

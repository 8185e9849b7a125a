// Unit tests for sim/alipay/reply: response objects, node names, yuan amounts, and the signed body
// verified the way orderpay (and Alipay's SDK) verifies it: over the exact object text.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "orderpay/http/json.hpp"
#include "orderpay/providers/alipay/sign.hpp"
#include "sim/alipay/call.hpp"
#include "sim/alipay/reply.hpp"

namespace orderpay::sim {
namespace {

// The simulated Alipay key pair, made once for these tests.
const crypto::PKey& AlipayKey() {
    static const crypto::PKey key(EVP_RSA_gen(2048), CDeleter<EVP_PKEY_free>{});
    return key;
}

// Its public half through PEM, as orderpay's configuration holds it.
crypto::PKey AlipayPublicKey() {
    std::unique_ptr<BIO, CDeleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
    EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), AlipayKey().get()), 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    std::string error;
    crypto::PKey pub = crypto::PublicKeyFromPem(std::string(data, static_cast<std::size_t>(len)), error);
    EXPECT_TRUE(pub) << error;
    return pub;
}

TEST(SimZfbReplyTest, NodeName) {
    EXPECT_EQ(ZfbResponseNode("alipay.trade.precreate"), "alipay_trade_precreate_response");
    EXPECT_EQ(ZfbResponseNode("alipay.trade.pay"), "alipay_trade_pay_response");
}

TEST(SimZfbReplyTest, ObjectTextKeepsOrderUtf8AndRawArrays) {
    const ZfbMembers m{{"code", "10000"},
                       {"msg", "Success"},
                       {"subject", "绿茶 \"礼盒\"\\"},
                       {"qr_code", "https://qr.alipay.com/bax0abc"},
                       {"fund_bill_list", R"([{"amount":"0.01","fund_channel":"ALIPAYACCOUNT"}])", true}};
    EXPECT_EQ(
        ZfbObjectText(m),
        R"({"code":"10000","msg":"Success","subject":"绿茶 \"礼盒\"\\","qr_code":"https://qr.alipay.com/bax0abc",)"
        R"("fund_bill_list":[{"amount":"0.01","fund_channel":"ALIPAYACCOUNT"}]})");
    EXPECT_EQ(ZfbObjectText({}), "{}");
}

TEST(SimZfbReplyTest, SignedBodyRoundTrip) {
    const std::string object = ZfbObjectText({{"code", "10000"},
                                              {"msg", "Success"},
                                              {"out_trade_no", "o1"},
                                              {"qr_code", "https://qr.alipay.com/bax0x"},
                                              {"subject", "测试 {\"}"}});
    const std::string body = ZfbSignedBody(ZfbResponseNode("alipay.trade.precreate"), object, AlipayKey());
    // The body is the object text verbatim between the node name and the sign.
    ASSERT_EQ(body.rfind("{\"alipay_trade_precreate_response\":" + object + ",\"sign\":\"", 0), 0u) << body;

    rapidjson::Document doc;
    ASSERT_EQ(http::ParseJson(body, doc), "");
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("sign"));
    const std::string sign = doc["sign"].GetString();
    EXPECT_TRUE(crypto::RsaSha256VerifyBase64(AlipayPublicKey(), object, sign));

    // orderpay's own extraction and verification agree.
    std::string content, reason;
    ASSERT_TRUE(alipay::VerifyResponse(body, "alipay.trade.precreate", AlipayPublicKey(), content, reason))
        << reason;
    EXPECT_EQ(content, object);
    // Another method's node is not this answer.
    EXPECT_FALSE(alipay::VerifyResponse(body, "alipay.trade.query", AlipayPublicKey(), content, reason));
    // One byte changed inside the object: the signature no longer holds.
    std::string forged = body;
    forged.replace(forged.find("o1"), 2, "o2");
    EXPECT_FALSE(
        alipay::VerifyResponse(forged, "alipay.trade.precreate", AlipayPublicKey(), content, reason));
}

TEST(SimZfbReplyTest, ErrorResponseSignedOrNot) {
    const std::string object = ZfbObjectText({{"code", "40002"},
                                              {"msg", "Invalid Arguments"},
                                              {"sub_code", "isv.invalid-signature"},
                                              {"sub_msg", "验签出错"}});
    const std::string signed_body = ZfbSignedBody("error_response", object, AlipayKey());
    std::optional<alipay::SignedResponse> r = alipay::ExtractSignedResponse(signed_body, "alipay.trade.pay");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->is_error_response);
    EXPECT_EQ(r->content, object);
    EXPECT_TRUE(crypto::RsaSha256VerifyBase64(AlipayPublicKey(), r->content, r->sign));

    // An unknown app: nothing to sign with, so no "sign" member at all.
    EXPECT_EQ(ZfbSignedBody("error_response", object, nullptr), "{\"error_response\":" + object + "}");
}

TEST(SimZfbReplyTest, InvalidSignatureIsAnsweredInTheMethodsNode) {
    const http::Response r = ZfbInvalidSignature("alipay.trade.precreate", "验签出错", AlipayKey());
    EXPECT_EQ(r.status, 200);
    rapidjson::Document doc;
    ASSERT_EQ(http::ParseJson(r.body, doc), "");
    ASSERT_TRUE(doc.IsObject());
    EXPECT_FALSE(doc.HasMember("error_response"));
    ASSERT_TRUE(doc.HasMember("alipay_trade_precreate_response"));
    EXPECT_TRUE(doc.HasMember("sign"));
    const std::string object = ZfbObjectText({{"code", "40002"},
                                              {"msg", "Invalid Arguments"},
                                              {"sub_code", "isv.invalid-signature"},
                                              {"sub_msg", "验签出错"}});
    EXPECT_EQ(r.body.find("{\"alipay_trade_precreate_response\":" + object + ",\"sign\":"), 0u) << r.body;

    // orderpay's client takes it as the method's own signed answer, whose code is not 10000: a
    // refusal it reports as a failure, not a missing or untrusted answer.
    std::optional<alipay::SignedResponse> sr =
        alipay::ExtractSignedResponse(r.body, "alipay.trade.precreate");
    ASSERT_TRUE(sr);
    EXPECT_FALSE(sr->is_error_response);
    std::string content, reason;
    ASSERT_TRUE(alipay::VerifyResponse(r.body, "alipay.trade.precreate", AlipayPublicKey(), content, reason))
        << reason;
    EXPECT_EQ(content, object);
}

TEST(SimZfbReplyTest, Yuan) {
    EXPECT_EQ(Yuan(1), "0.01");
    EXPECT_EQ(Yuan(100), "1.00");
    EXPECT_EQ(Yuan(1234567), "12345.67");
    std::int64_t fen = 0;
    EXPECT_TRUE(ParseYuan("0.01", fen));
    EXPECT_EQ(fen, 1);
    EXPECT_TRUE(ParseYuan("12.5", fen));
    EXPECT_EQ(fen, 1250);
    EXPECT_TRUE(ParseYuan("100000000", fen));
    EXPECT_EQ(fen, 10000000000);
    for (const char* bad : {"", "0", "0.00", "-1", "+1", "0.001", "1e2", " 1", "1 ", "1.", ".5",
                            "100000000.01", "1,00", "0x10"})
        EXPECT_FALSE(ParseYuan(bad, fen)) << bad;
}

}  // namespace
}  // namespace orderpay::sim

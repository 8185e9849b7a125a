// Unit tests for WeChat Pay v2 signing: PROTOCOLS.md §5 vectors V-WX2-1, V-WX2-2 and V-WX2-3.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/sign.hpp"
#include "test_keys.hpp"

namespace orderpay::wxpay {
namespace {

using Fields = std::map<std::string, std::string>;

constexpr std::string_view kDocKey = "192006250b4c09247ec02edce69f6a2d";

// V-WX2-1: the official 安全规范 example.
const Fields kDocParams = {
    {"appid", "wxd930ea5d5a258f4f"},   {"mch_id", "10000100"}, {"device_info", "1000"}, {"body", "test"},
    {"nonce_str", "ibuaiVcKdpRxkhJA"},
};

TEST(WxSignTest, SignTypeNames) {
    EXPECT_EQ(ParseSignType("MD5"), SignType::kMd5);
    EXPECT_EQ(ParseSignType("HMAC-SHA256"), SignType::kHmacSha256);
    for (const char* bad : {"", "md5", "HMAC_SHA256", "hmac-sha256", "SHA256", "MD5 "})
        EXPECT_FALSE(ParseSignType(bad)) << bad;
    EXPECT_EQ(ToString(SignType::kMd5), "MD5");
    EXPECT_EQ(ToString(SignType::kHmacSha256), "HMAC-SHA256");
}

TEST(WxSignTest, DocExampleSignString) {
    EXPECT_EQ(SignString(kDocParams, kDocKey),
              "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"
              "&key=192006250b4c09247ec02edce69f6a2d");
}

TEST(WxSignTest, DocExampleMd5AndHmac) {
    EXPECT_EQ(Sign(kDocParams, kDocKey, SignType::kMd5), "9A0A8659F005D6984697E2CA0A9CF3B7");
    EXPECT_EQ(Sign(kDocParams, kDocKey, SignType::kHmacSha256),
              "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6");
}

TEST(WxSignTest, SignStringSkipsSignAndEmptyButNotBlank) {
    Fields f = kDocParams;
    f["sign"] = "whatever";
    f["zz_empty"] = "";
    EXPECT_EQ(SignString(f, kDocKey), SignString(kDocParams, kDocKey));
    // Whitespace is a value: skipping or trimming it would sign different bytes than WeChat.
    f["attach"] = " ";
    EXPECT_NE(SignString(f, kDocKey).find("&attach= &"), std::string::npos);
}

TEST(WxSignTest, SignStringUsesByteOrder) {
    const Fields f = {{"b", "1"}, {"B", "2"}, {"a_b", "3"}, {"aB", "4"}, {"a", "5"}};
    EXPECT_EQ(SignString(f, "k"), "B=2&a=5&aB=4&a_b=3&b=1&key=k");
}

TEST(WxSignTest, VerifyDocExample) {
    Fields f = kDocParams;
    f["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B7";
    EXPECT_TRUE(Verify(f, kDocKey, SignType::kMd5));
    f["sign"] = "9a0a8659f005d6984697e2ca0a9cf3b7";
    EXPECT_TRUE(Verify(f, kDocKey, SignType::kMd5));
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kHmacSha256));
    EXPECT_FALSE(Verify(f, "00000000000000000000000000000000", SignType::kMd5));
    f["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B8";
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kMd5));
    f["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B";
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kMd5));
}

TEST(WxSignTest, MissingOrEmptySignNeverVerifies) {
    Fields f = kDocParams;
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kMd5));
    f["sign"] = "";
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kMd5));
    EXPECT_FALSE(Verify({}, kDocKey, SignType::kMd5));
    EXPECT_FALSE(Verify({{"sign", ""}}, "", SignType::kHmacSha256));
}

TEST(WxSignTest, UnknownFieldsAreSigned) {
    Fields f = kDocParams;
    f["sign"] = "9A0A8659F005D6984697E2CA0A9CF3B7";
    f["new_field_from_wechat"] = "x";
    EXPECT_FALSE(Verify(f, kDocKey, SignType::kMd5));
}

// V-WX2-3: JSAPI paySign over the five camelCase client parameters.
TEST(WxSignTest, JsapiPaySign) {
    const Fields f = {
        {"appId", "wxd930ea5d5a258f4f"},
        {"nonceStr", "ibuaiVcKdpRxkhJA"},
        {"package", "prepay_id=wx201410272009395522657a690389285100"},
        {"signType", "MD5"},
        {"timeStamp", "1704081600"},
    };
    EXPECT_EQ(SignString(f, kDocKey),
              "appId=wxd930ea5d5a258f4f&nonceStr=ibuaiVcKdpRxkhJA&package=prepay_id="
              "wx201410272009395522657a690389285100&signType=MD5&timeStamp=1704081600"
              "&key=192006250b4c09247ec02edce69f6a2d");
    EXPECT_EQ(Sign(f, kDocKey, SignType::kMd5), "4B5D0A68E9D5522044331B7A16716DAE");
}

// V-WX2-2: the notification files live in the shared tree, never in this repo.
class WxNotifyVectorTest : public ::testing::Test {
  protected:
    // Parsed fields of vectors/<name>, or nullopt when the file is absent.
    static std::optional<Fields> Load(const std::string& name) {
        const std::string path = test::VectorPath(name);
        std::ifstream in(path, std::ios::binary);
        if (!in) return std::nullopt;
        std::ostringstream body;
        body << in.rdbuf();
        const http::FlatXmlResult r = http::ParseFlatXml(body.str());
        EXPECT_TRUE(r.fields) << path << ": " << r.error;
        return r.fields.value_or(Fields{});
    }

    static void ExpectTamperingRejected(const Fields& good, SignType type) {
        ASSERT_TRUE(Verify(good, kDocKey, type));

        Fields f = good;
        f["total_fee"] = "100";
        EXPECT_FALSE(Verify(f, kDocKey, type)) << "total_fee changed";

        f = good;
        for (auto it = f.begin(); it != f.end();)
            it = it->first.rfind("coupon_", 0) == 0 ? f.erase(it) : std::next(it);
        ASSERT_EQ(f.size() + 4, good.size());
        EXPECT_FALSE(Verify(f, kDocKey, type)) << "coupon fields dropped";

        f = good;
        f.erase("sign");
        EXPECT_FALSE(Verify(f, kDocKey, type)) << "sign removed";

        f = good;
        f["sign"] = "";
        EXPECT_FALSE(Verify(f, kDocKey, type)) << "sign empty";

        EXPECT_FALSE(Verify(good, "192006250b4c09247ec02edce69f6a2e", type)) << "wrong key";
    }
};

#define LOAD_OR_SKIP(var, name)                                                                \
    const std::optional<Fields> var = Load(name);                                              \
    if (!var)                                                                                  \
        GTEST_SKIP() << "vector " << test::SharedDir() << "/vectors/" << name                  \
                     << " not found; set ORDERPAY_SHARED to the shared directory to run this"; \
    ASSERT_FALSE(var->empty())

TEST_F(WxNotifyVectorTest, Md5Notification) {
    LOAD_OR_SKIP(fields, "wx_v2_notify_md5.xml");
    EXPECT_EQ(fields->count("sign_type"), 0u);
    EXPECT_EQ(fields->at("attach"), "支付测试");
    EXPECT_EQ(fields->at("total_fee"), "1");
    EXPECT_EQ(Sign(*fields, kDocKey, SignType::kMd5), "B39FB45FD6EBDDA63086D0D7C87C152A");
    EXPECT_EQ(fields->at("sign"), "B39FB45FD6EBDDA63086D0D7C87C152A");
    EXPECT_FALSE(Verify(*fields, kDocKey, SignType::kHmacSha256));
    ExpectTamperingRejected(*fields, SignType::kMd5);
}

TEST_F(WxNotifyVectorTest, HmacNotificationUsesItsSignType) {
    LOAD_OR_SKIP(fields, "wx_v2_notify_hmac.xml");
    // The file carries sign_type, so the algorithm comes from it and it is part of the signed set.
    ASSERT_EQ(fields->count("sign_type"), 1u);
    const std::optional<SignType> type = ParseSignType(fields->at("sign_type"));
    ASSERT_EQ(type, SignType::kHmacSha256);
    EXPECT_EQ(Sign(*fields, kDocKey, *type),
              "B354DCBB34910EC15F9D9C4C1BCCAACC671A34CE3331C64AC5CFC7C9937EAB56");
    EXPECT_FALSE(Verify(*fields, kDocKey, SignType::kMd5));
    ExpectTamperingRejected(*fields, *type);

    // Without sign_type the same fields give the other documented HMAC value, so dropping it
    // (WxJava#1407) must break verification.
    Fields stripped = *fields;
    stripped.erase("sign_type");
    EXPECT_EQ(Sign(stripped, kDocKey, SignType::kHmacSha256),
              "D21050367272ECB3BC5A55007081E48BAE02E42FE0CE947387E696AAA7C66518");
    EXPECT_FALSE(Verify(stripped, kDocKey, SignType::kHmacSha256));
}

}  // namespace
}  // namespace orderpay::wxpay

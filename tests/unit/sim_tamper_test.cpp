// Unit tests for sim/wxpay/tamper and sim/wxpay/notify's pure parts: each tamper spoils exactly what it says,
// and a notification signs like WeChat's (known answers computed with python hashlib/hmac).
#include <gtest/gtest.h>

#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/tamper.hpp"

namespace orderpay::sim {
namespace {

constexpr const char* kKey = "192006250b4c09247ec02edce69f6a2d";  // the WeChat doc key (V-WX2-1)

// The doc notification (PROTOCOLS.md §1.5) without its coupon fields.
wx_store::Trade DocTrade(const char* sign_type) {
    wx_store::Trade t;
    t.key = {"wx", "10000100", "1409811653"};
    t.app_id = "wx2421b1c4370ec43b";
    t.trade_type = "JSAPI";
    t.total_fee = 1;
    t.sign_type = sign_type;
    t.attach = "支付测试";
    t.openid = "oUpF8uMEb4qRXf22hE3X68TekukE";
    t.transaction_id = "1004400740201409030005092168";
    t.state = "SUCCESS";
    t.notify_nonce = "5d2b6c2a8db53831f7eda20af46e531c";
    t.paid_at = 1409721340;  // 2014-09-03 05:15:40 UTC = 13:15:40 in Beijing
    return t;
}

const wx_store::Merchant kMerchant{"wx", "10000100", "wx2421b1c4370ec43b", "MD5", kKey};

http::XmlFields Parse(const std::string& body) {
    auto r = http::ParseFlatXml(body);
    EXPECT_TRUE(r.fields) << r.error;
    return r.fields.value_or(http::XmlFields{});
}

TEST(SimNotifyTest, TimeEndIsBeijingTime) {
    EXPECT_EQ(TimeEnd(1409721340), "20140903131540");
    EXPECT_EQ(TimeEnd(0), "19700101080000");
    EXPECT_EQ(TimeEnd(1704038400), "20240101000000");  // 2023-12-31 16:00 UTC
}

TEST(SimNotifyTest, Md5NotificationKnownAnswer) {
    const http::XmlFields f = NotificationFields(DocTrade("MD5"), kMerchant);
    EXPECT_EQ(f.at("sign"), "AAC655C5789F84AD6C098495E474F0E7");
    EXPECT_EQ(f.count("sign_type"), 0u);
    EXPECT_EQ(f.at("time_end"), "20140903131540");
    EXPECT_EQ(f.at("cash_fee"), "1");
    EXPECT_EQ(f.at("return_code"), "SUCCESS");
    EXPECT_EQ(f.at("result_code"), "SUCCESS");
    EXPECT_TRUE(wxpay::Verify(f, kKey, wxpay::SignType::kMd5));
}

TEST(SimNotifyTest, HmacNotificationCarriesSignType) {
    const http::XmlFields f = NotificationFields(DocTrade("HMAC-SHA256"), kMerchant);
    EXPECT_EQ(f.at("sign_type"), "HMAC-SHA256");
    EXPECT_EQ(f.at("sign"), "8D5F9B58663C4459C3AF76D5357FBE2055F1783EF2AA295295B6E932F762DFCE");
    EXPECT_TRUE(wxpay::Verify(f, kKey, wxpay::SignType::kHmacSha256));
}

TEST(SimNotifyTest, RefusesAnUnpaidTrade) {
    wx_store::Trade t = DocTrade("MD5");
    t.state = "NOTPAY";
    EXPECT_THROW(NotificationFields(t, kMerchant), std::logic_error);
    t = DocTrade("MD5");
    t.notify_nonce.reset();
    EXPECT_THROW(NotificationFields(t, kMerchant), std::logic_error);
}

TEST(SimTamperTest, ParseNames) {
    EXPECT_EQ(ParseTamper(""), Tamper::kNone);
    EXPECT_EQ(ParseTamper("sign"), Tamper::kSign);
    EXPECT_EQ(ParseTamper("amount"), Tamper::kAmount);
    EXPECT_EQ(ParseTamper("amount_resigned"), Tamper::kAmountResigned);
    EXPECT_EQ(ParseTamper("doctype"), Tamper::kDoctype);
    EXPECT_EQ(ParseTamper("appid"), Tamper::kAppid);
    EXPECT_EQ(ParseTamper("pretty"), Tamper::kPretty);
    EXPECT_EQ(ParseTamper("gbk_declaration"), Tamper::kGbkDeclaration);
    EXPECT_EQ(ParseTamper("comment"), Tamper::kComment);
    EXPECT_FALSE(ParseTamper("Sign"));
    EXPECT_FALSE(ParseTamper("none"));
}

class SimTamperEachType : public ::testing::TestWithParam<const char*> {};

TEST_P(SimTamperEachType, EachTamperDoesWhatItSays) {
    const wx_store::Trade trade = DocTrade(GetParam());
    const wxpay::SignType type = *wxpay::ParseSignType(GetParam());
    const http::XmlFields good = NotificationFields(trade, kMerchant);

    const http::XmlFields none = Parse(TamperedBody(good, Tamper::kNone, kKey, type));
    EXPECT_EQ(none, good);

    const http::XmlFields sign = Parse(TamperedBody(good, Tamper::kSign, kKey, type));
    EXPECT_NE(sign.at("sign"), good.at("sign"));
    EXPECT_EQ(sign.at("sign").size(), good.at("sign").size());
    EXPECT_FALSE(wxpay::Verify(sign, kKey, type));
    http::XmlFields rest = sign;
    rest["sign"] = good.at("sign");
    EXPECT_EQ(rest, good);  // nothing else changed

    const http::XmlFields amount = Parse(TamperedBody(good, Tamper::kAmount, kKey, type));
    EXPECT_EQ(amount.at("total_fee"), "2");
    EXPECT_EQ(amount.at("sign"), good.at("sign"));
    EXPECT_FALSE(wxpay::Verify(amount, kKey, type));

    const http::XmlFields resigned = Parse(TamperedBody(good, Tamper::kAmountResigned, kKey, type));
    EXPECT_EQ(resigned.at("total_fee"), "2");
    EXPECT_EQ(resigned.at("cash_fee"), "1");
    EXPECT_TRUE(wxpay::Verify(resigned, kKey, type));

    const http::XmlFields appid = Parse(TamperedBody(good, Tamper::kAppid, kKey, type));
    EXPECT_NE(appid.at("appid"), good.at("appid"));
    EXPECT_EQ(appid.at("total_fee"), good.at("total_fee"));
    EXPECT_TRUE(wxpay::Verify(appid, kKey, type));

    const std::string doctype = TamperedBody(good, Tamper::kDoctype, kKey, type);
    EXPECT_EQ(doctype.rfind("<!DOCTYPE xml [<!ENTITY x \"y\">]><xml>", 0), 0u);
    EXPECT_EQ(http::ParseFlatXml(doctype).error, "doctype");
    EXPECT_EQ(doctype.substr(doctype.find("<xml>")), http::BuildFlatXml(good));

    // Not a forgery: other bytes, the same values, so the signature still verifies.
    const std::string pretty = TamperedBody(good, Tamper::kPretty, kKey, type);
    EXPECT_EQ(pretty.rfind("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n", 0), 0u);
    EXPECT_EQ(pretty.find("CDATA"), std::string::npos);
    EXPECT_NE(pretty.find("<return_code>&#83;UCCESS</return_code>"), std::string::npos);
    EXPECT_EQ(Parse(pretty), good);

    const std::string gbk = TamperedBody(good, Tamper::kGbkDeclaration, kKey, type);
    EXPECT_EQ(gbk, "<?xml version=\"1.0\" encoding=\"GBK\"?>" + http::BuildFlatXml(good));
    EXPECT_EQ(http::ParseFlatXml(gbk).error, "malformed");

    const std::string comment = TamperedBody(good, Tamper::kComment, kKey, type);
    const std::string& txn = good.at("transaction_id");
    EXPECT_NE(comment.find("<transaction_id>" + txn.substr(0, 2) + "<!-- -->" + txn.substr(2) + "</"),
              std::string::npos);
    EXPECT_EQ(http::ParseFlatXml(comment).error, "unexpected node");
}

TEST(SimTamperTest, PrettyEscapesMarkupAndNonAscii) {
    const http::XmlFields f{{"attach", "a<b>&c 茶"}, {"sign", "X"}};
    const std::string xml = TamperedBody(f, Tamper::kPretty, kKey, wxpay::SignType::kMd5);
    EXPECT_NE(xml.find("<attach>&#97;&lt;b&gt;&amp;c &#x8336;</attach>\r\n"), std::string::npos) << xml;
    EXPECT_EQ(Parse(xml), f);
}

INSTANTIATE_TEST_SUITE_P(SignTypes, SimTamperEachType, ::testing::Values("MD5", "HMAC-SHA256"));

TEST(SimTamperTest, SignFlipKeepsHexShape) {
    http::XmlFields f{{"a", "1"}, {"sign", "ABC0"}};
    EXPECT_EQ(Parse(TamperedBody(f, Tamper::kSign, kKey, wxpay::SignType::kMd5)).at("sign"), "ABC1");
    f["sign"] = "ABC1";
    EXPECT_EQ(Parse(TamperedBody(f, Tamper::kSign, kKey, wxpay::SignType::kMd5)).at("sign"), "ABC0");
}

}  // namespace
}  // namespace orderpay::sim

// Unit tests for Alipay's notification parsing: the charsets orderpay reads and repeated names
// (review s30 Info items 2 and 4), refused before anything is verified.
#include <gtest/gtest.h>

#include "orderpay/providers/alipay/client.hpp"

namespace orderpay::alipay {
namespace {

providers::Notice Parse(const std::string& form, const std::string& method = "POST") {
    AlipayClient client{AlipayOptions{}};
    providers::RawNotification raw;
    raw.method = method;
    (method == "POST" ? raw.body : raw.query) = form;
    return client.ParseNotification(raw);
}

const std::string kForm = "notify_type=trade_status_sync&out_trade_no=s1&total_amount=25.00&sign=x";

TEST(AlipayNotice, CharsetsOrderpayReadsInAnyCase) {
    for (const char* cs : {"utf-8", "UTF-8", "Utf-8", "gbk", "GBK", "gb2312", "GB2312", ""}) {
        const providers::Notice n = Parse(kForm + "&charset=" + cs);
        EXPECT_TRUE(n.parsed) << cs << ": " << n.error;
        EXPECT_EQ(n.slip_id, "s1");
    }
    EXPECT_TRUE(Parse(kForm).parsed) << "no charset: UTF-8";
    EXPECT_TRUE(Parse("out_trade_no=s1&charset=GBK", "GET").parsed) << "a return, too";
}

TEST(AlipayNotice, OtherCharsetsAreRefusedNamingThem) {
    const std::pair<const char*, const char*> refused[] = {
        {"iso-8859-1", "\"iso-8859-1\""},
        {"latin1", "\"latin1\""},
        {"utf8", "\"utf8\""},
        {"utf-16", "\"utf-16\""},
        {"gb18030", "\"gb18030\""},
        {"utf-8+", "\"utf-8 \""},
        {"%1b%5b31m", "\"\\x1b[31m\""},
        {"%e6%b5%8b", "\"\\xe6\\xb5\\x8b\""},
    };
    for (const auto& [cs, shown] : refused) {
        for (const char* method : {"POST", "GET"}) {
            const providers::Notice n = Parse(kForm + "&charset=" + cs, method);
            EXPECT_FALSE(n.parsed) << cs;
            EXPECT_EQ(n.error,
                      std::string("charset ") + shown + " is not one orderpay reads (utf-8, gbk, gb2312)")
                << cs;
        }
    }
    const providers::Notice n = Parse(kForm + "&charset=" + std::string(100, 'x'));
    EXPECT_EQ(n.error,
              "charset \"" + std::string(40, 'x') + "...\" is not one orderpay reads (utf-8, gbk, gb2312)");
}

TEST(AlipayNotice, ARepeatedNameIsRefusedNamingIt) {
    for (const char* extra : {"&total_amount=0.01", "&total%5famount=25.00", "&charset=utf-8&charset=gbk"}) {
        const providers::Notice n = Parse(kForm + extra);
        EXPECT_FALSE(n.parsed) << extra;
        EXPECT_NE(n.error.find("is given more than once"), std::string::npos) << n.error;
    }
    EXPECT_EQ(Parse("total_amount=0.01&" + kForm).error,
              "parameter \"total_amount\" is given more than once");
    EXPECT_EQ(Parse(kForm + "&sign=y").error, "parameter \"sign\" is given more than once");
}

}  // namespace
}  // namespace orderpay::alipay

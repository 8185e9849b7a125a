// Unit tests for the route matcher, the error table, the reply envelope, request text checks,
// JSON limits and the strict parsing of request bodies.
#include <gtest/gtest.h>

#include <set>

#include "orderpay/http/errors.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/request.hpp"
#include "orderpay/http/router.hpp"

using namespace orderpay::http;

TEST(Router, MatchesApiPath) {
    RouteMatch m;
    ASSERT_TRUE(MatchApiPath("/api/demo/pay/buy", m));
    EXPECT_EQ(m.site, "demo");
    EXPECT_EQ(m.action, "buy");
    ASSERT_TRUE(MatchApiPath("/api/shop.example.com/pay/check_order", m));
    EXPECT_EQ(m.site, "shop.example.com");
    EXPECT_EQ(m.area, "pay");
    EXPECT_EQ(m.action, "check_order");
    ASSERT_TRUE(MatchApiPath("/api/demo/admin/refund", m));
    EXPECT_EQ(m.site, "demo");
    EXPECT_EQ(m.area, "admin");
    EXPECT_EQ(m.action, "refund");
}

TEST(Router, RejectsOtherShapes) {
    RouteMatch m;
    for (const char* p : {"/api//pay/buy", "/api/demo/pay/", "/api/demo/pay/buy/x", "/api/demo/pax/buy",
                          "/apix/demo/pay/buy", "/api/demo", "/", "", "/api/demo/admin/", "/api/demo/admin",
                          "/api/demo/adminx/refund", "/api/demo/admin/refund/x", "/api/demo/payadmin/x"}) {
        EXPECT_FALSE(MatchApiPath(p, m)) << p;
    }
}

TEST(Router, ASiteThatCannotExistStillMatchesTheShape) {
    // ...so that it is answered "no such site" (without a query), not "no such API".
    RouteMatch m;
    ASSERT_TRUE(MatchApiPath("/api/de mo/pay/buy", m));
    EXPECT_EQ(m.site, "de mo");
    ASSERT_TRUE(MatchApiPath("/api/" + std::string(65, 'a') + "/pay/check", m));
    EXPECT_FALSE(ValidSiteId(m.site));
}

TEST(Router, ValidSiteIdIsTheSchemaCheck) {
    for (const char* ok : {"demo", "shop.example.com", "A_b-9", "x"}) EXPECT_TRUE(ValidSiteId(ok)) << ok;
    EXPECT_TRUE(ValidSiteId(std::string(64, 'a')));
    for (const char* bad : {"", ".", "..", "de mo", "a$b", "a/b", "a%b", "caf\xc3\xa9", "\xff"})
        EXPECT_FALSE(ValidSiteId(bad)) << bad;
    EXPECT_FALSE(ValidSiteId(std::string(65, 'a')));
    EXPECT_FALSE(ValidSiteId(std::string("ab\0", 3)));
}

TEST(Router, MethodNotAllowedNamesTheAllowedMethods) {
    Response r = MethodNotAllowed(kRead);
    EXPECT_EQ(r.status, 405);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD"}));
    EXPECT_EQ(MethodNotAllowed(unsigned(Method::kPost)).headers[0].second, "POST");
    // A GET that changes something (pay/pay) does not offer HEAD.
    EXPECT_EQ(MethodNotAllowed(unsigned(Method::kGet)).headers[0].second, "GET");
    EXPECT_EQ(MethodNotAllowed(kRead | unsigned(Method::kPost)).headers[0].second, "GET, HEAD, POST");
}

TEST(Request, JsonMediaType) {
    for (const char* ok : {"application/json", "application/json; charset=utf-8", "Application/JSON",
                           "application/json;charset=UTF-8", " application/json ; charset=utf-8"})
        EXPECT_TRUE(IsJsonMediaType(ok)) << ok;
    for (const char* bad : {"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                            "application/jsonx", "application/json-seq", "application/problem+json", "json",
                            "multipart/form-data; boundary=application/json"})
        EXPECT_FALSE(IsJsonMediaType(bad)) << bad;
}

TEST(Request, QueryIsText) {
    Request r;
    r.query = {{"ticket", "abc"}, {"id", "绿茶"}};
    EXPECT_TRUE(r.QueryIsText());
    r.query = {{"id", "\xff"}};
    EXPECT_FALSE(r.QueryIsText());
    r.query = {{"id", std::string("abc\0", 4)}};
    EXPECT_FALSE(r.QueryIsText());
    r.query = {{std::string("i\0d", 3), "x"}};
    EXPECT_FALSE(r.QueryIsText());
    r.query = {{"\xfe", "x"}};
    EXPECT_FALSE(r.QueryIsText());
}

TEST(Request, ReadQueryKeepsPairsButNamesWhatOrderpayRefuses) {
    Request r;
    r.query_string = "ticket=t&id=A";
    r.ReadQuery();
    EXPECT_TRUE(r.query_ok);
    EXPECT_EQ(r.query_error, "");
    EXPECT_EQ(r.Arg("id"), "A");
    // A repeat still parses (paysim reads its query as it comes); orderpay refuses on query_error.
    r.query_string = "id=A&i%64=B";
    r.ReadQuery();
    EXPECT_TRUE(r.query_ok);
    EXPECT_EQ(r.query_error, "argument \"id\" is given more than once");
    EXPECT_EQ(r.query.size(), 2u);
    r.query_string = "=x";
    r.ReadQuery();
    EXPECT_TRUE(r.query_ok);
    EXPECT_EQ(r.query_error, "an argument has no name");
    r.query_string = "id=%zz";
    r.ReadQuery();
    EXPECT_FALSE(r.query_ok);
    EXPECT_TRUE(r.query.empty());
    EXPECT_EQ(r.query_error, "a '%' is not followed by two hex digits");
    r.query_string = "id=A";
    r.ReadQuery();
    EXPECT_TRUE(r.query_ok);
    EXPECT_EQ(r.query_error, "");
}

TEST(Router, MethodBits) {
    EXPECT_EQ(MethodBit("GET"), unsigned(Method::kGet));
    EXPECT_EQ(MethodBit("HEAD"), unsigned(Method::kHead));
    EXPECT_EQ(MethodBit("head"), 0u);
    EXPECT_EQ(MethodBit("POST"), unsigned(Method::kPost));
    EXPECT_EQ(MethodBit("DELETE"), 0u);
}

TEST(Errors, SeedCodesAndStatuses) {
    EXPECT_EQ(Info(Err::kNilProducts).code, "e.www.order.nil.products");
    EXPECT_EQ(Info(Err::kNilAccounts).code, "e.www.order.nil.accounts");
    EXPECT_EQ(Info(Err::kNilBuyer).code, "e.www.order.nil.buyer_id");
    EXPECT_EQ(Info(Err::kNilPayTp).code, "e.www.order.nil.pay_tp");
    EXPECT_EQ(Info(Err::kInvalidPayTp).code, "e.www.order.invalid.pay_tp");
    EXPECT_EQ(Info(Err::kNoSuchObject).code, "e.io.obj.noexists");
    EXPECT_EQ(Info(Err::kNoSuchObject).status, 404);
    EXPECT_EQ(Info(Err::kNoLogin).code, "e.www.api.auth.nologin");
    EXPECT_EQ(Info(Err::kNoLogin).status, 401);
    EXPECT_EQ(Info(Err::kOutOfStore).code, "e.www.order.OutOfStore");
    EXPECT_EQ(Info(Err::kOutOfStore).status, 409);
    EXPECT_EQ(Info(Err::kTooLarge).status, 413);
    EXPECT_EQ(Info(Err::kDbUnavailable).status, 503);
    EXPECT_EQ(Info(Err::kProviderTimeout).status, 504);
    EXPECT_EQ(Info(Err::kBadEncoding).code, "e.www.api.invalid.encoding");
    EXPECT_EQ(Info(Err::kBadEncoding).status, 400);
    EXPECT_EQ(Info(Err::kUnsupportedType).code, "e.www.api.unsupported_media_type");
    EXPECT_EQ(Info(Err::kUnsupportedType).status, 415);
    EXPECT_EQ(Info(Err::kUriTooLong).status, 414);
    EXPECT_EQ(Info(Err::kRefundChargeback).code, "e.www.refund.chargeback");
    EXPECT_EQ(Info(Err::kRefundChargeback).status, 409);
}

TEST(Errors, CodesAreUnique) {
    std::set<std::string_view> seen;
    for (int i = 0; i <= int(Err::kProviderTimeout); ++i)
        EXPECT_TRUE(seen.insert(Info(Err(i)).code).second) << i;
}

TEST(Reply, Envelope) {
    EXPECT_EQ(Ok("{\"a\":1}").body, "{\"ok\":true,\"data\":{\"a\":1}}");
    Response f = Fail(Err::kNilPayTp);
    EXPECT_EQ(f.status, 400);
    EXPECT_EQ(f.body, "{\"ok\":false,\"errCode\":\"e.www.order.nil.pay_tp\",\"msg\":\"pay_tp is missing\"}");
    Response g = Fail(Err::kOutOfStore, "x\"y", "{\"p\":1}");
    EXPECT_EQ(g.body,
              "{\"ok\":false,\"errCode\":\"e.www.order.OutOfStore\",\"msg\":\"x\\\"y\",\"data\":{\"p\":1}}");
}

TEST(Reply, JsonStringEscapes) {
    EXPECT_EQ(JsonString("a\\b\n\x01"), "\"a\\\\b\\n\\u0001\"");
    EXPECT_EQ(JsonString("支付"), "\"支付\"");
}

TEST(Json, LimitsAndErrors) {
    rapidjson::Document d;
    EXPECT_EQ(ParseJson("{\"a\":[1,2]}", d), "");
    EXPECT_TRUE(d.IsObject());
    EXPECT_EQ(ParseJson(std::string(100, '['), d, {1024, 16}), "too deep");
    EXPECT_EQ(ParseJson(std::string(2000, ' '), d, {1024, 16}), "too large");
    EXPECT_NE(ParseJson("{\"a\":", d), "");
    EXPECT_NE(ParseJson("{} x", d), "");
    EXPECT_NE(ParseJson("", d), "");
    EXPECT_EQ(ParseJson("{\"a\":[[[[1]]]]}", d, {1024, 5}), "");
    EXPECT_EQ(ParseJson("{\"a\":[[[[[1]]]]]}", d, {1024, 5}), "too deep");
}

TEST(JsonInput, AcceptsTextAndReportsSyntax) {
    rapidjson::Document d;
    JsonCheck c = ParseJsonInput("{\"t\":\"绿茶 \\u00e9 \\ud83d\\ude00\",\"a\":[{\"x\":1},{\"x\":2}]}", d);
    EXPECT_EQ(c.fault, JsonFault::kNone) << c.reason;
    EXPECT_EQ(ParseJsonInput("{\"a\":", d).fault, JsonFault::kSyntax);
    EXPECT_EQ(ParseJsonInput("{} x", d).fault, JsonFault::kSyntax);
    EXPECT_EQ(ParseJsonInput(std::string(100, '['), d).fault, JsonFault::kSyntax);
    EXPECT_EQ(ParseJsonInput(std::string(2000, ' '), d, {1024, 16}).fault, JsonFault::kSyntax);
}

TEST(JsonInput, RefusesBadTextRawOrEscaped) {
    rapidjson::Document d;
    for (std::string body :
         {std::string("{\"t\":\"\xff\xfe\"}"), std::string("{\"\xff\":1}"),
          std::string("{\"t\":\"\xc0\x80\"}"), std::string("{\"t\":\"\xed\xa0\x80\"}"),
          std::string("{\"t\":\"a\0b\"}", 11), std::string("{} \0", 4), std::string("{\"t\":\"a\\u0000b\"}"),
          std::string("{\"t\\u0000\":1}"), std::string("{\"t\":[\"ok\",{\"u\":\"\\u0000\"}]}"),
          std::string("{\"t\":\"\\ud800\"}"), std::string("{\"t\":\"\\ud800x\"}"),
          std::string("{\"t\":\"\\udc00\"}")}) {
        JsonCheck c = ParseJsonInput(body, d);
        EXPECT_EQ(c.fault, JsonFault::kEncoding) << body << ": " << c.reason;
    }
}

TEST(JsonInput, RefusesDuplicateKeysAtAnyDepth) {
    rapidjson::Document d;
    JsonCheck c = ParseJsonInput("{\"pay_tp\":\"wx.qrcode\",\"pay_tp\":\"zfb.qrcode\"}", d);
    EXPECT_EQ(c.fault, JsonFault::kSyntax);
    EXPECT_NE(c.reason.find("pay_tp"), std::string::npos) << c.reason;
    EXPECT_EQ(ParseJsonInput("{\"p\":[{\"id\":\"a\",\"id\":\"b\"}]}", d).fault, JsonFault::kSyntax);
    EXPECT_EQ(ParseJsonInput("{\"a\":1,\"\\u0061\":2}", d).fault, JsonFault::kSyntax);  // equal once decoded
    EXPECT_EQ(ParseJsonInput("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}", d).fault, JsonFault::kNone);
}

TEST(Json, TypedGetters) {
    rapidjson::Document d;
    ASSERT_EQ(ParseJson("{\"s\":\"x\",\"i\":3,\"b\":true,\"f\":1.5}", d), "");
    EXPECT_EQ(GetString(d, "s"), "x");
    EXPECT_EQ(GetString(d, "i"), std::nullopt);
    EXPECT_EQ(GetInt(d, "i"), 3);
    EXPECT_EQ(GetInt(d, "f"), std::nullopt);
    EXPECT_EQ(GetBool(d, "b"), true);
    EXPECT_EQ(GetInt(d, "missing"), std::nullopt);
}

TEST(Json, NumberAsWrittenKeepsTheSourceCharacters) {
    const std::string body = R"({"a":1e0,"b":7.50,"c":"7.50","d":-0.0,"n":{"a":2},"e":7.5000000000000001})";
    EXPECT_EQ(NumberAsWritten(body, "a"), "1e0");
    EXPECT_EQ(NumberAsWritten(body, "b"), "7.50");
    EXPECT_EQ(NumberAsWritten(body, "d"), "-0.0");
    EXPECT_EQ(NumberAsWritten(body, "e"), "7.5000000000000001");
    EXPECT_EQ(NumberAsWritten(body, "c"), std::nullopt);  // a string is not a number
    EXPECT_EQ(NumberAsWritten(body, "n"), std::nullopt);
    EXPECT_EQ(NumberAsWritten(body, "missing"), std::nullopt);
    EXPECT_EQ(NumberAsWritten("[1]", "a"), std::nullopt);
    EXPECT_EQ(NumberAsWritten("{\"a\":1", "a"), std::nullopt);

    rapidjson::Document d;
    ASSERT_EQ(ParseJsonNumbersAsWritten(R"({"x":2.5e1,"y":"25.00","z":24.999999999999999,"t":true})", d), "");
    EXPECT_EQ(GetString(d, "x"), "2.5e1");
    EXPECT_EQ(GetString(d, "y"), "25.00");
    EXPECT_EQ(GetString(d, "z"), "24.999999999999999");
    EXPECT_EQ(GetBool(d, "t"), true);
    EXPECT_NE(ParseJsonNumbersAsWritten(R"({"x":1e})", d), "");
}

TEST(Json, MoneyIsWrittenFromMinorUnits) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartArray();
    WriteMoney(w, 32156, 2);
    WriteMoney(w, 1, 2);
    WriteMoney(w, 1990, 2);
    WriteMoney(w, 500, 0);
    w.EndArray();
    EXPECT_STREQ(buf.GetString(), "[321.56,0.01,19.90,500]");
}

TEST(Request, IfNoneMatch) {
    const std::string_view tag = "\"abc-0123\"";
    for (std::string_view yes : {"\"abc-0123\"", "W/\"abc-0123\"", "\"x\", \"abc-0123\"", " \"abc-0123\" ,",
                                 "*", ",,\t\"abc-0123\"\t,,", "\"a\",*"})
        EXPECT_TRUE(IfNoneMatchHas(yes, tag)) << yes;
    for (std::string_view no : {"", ",", " , ,", "abc-0123", "\"abc-0123", "\"ABC-0123\"", "\"abc-01234\"",
                                "W/ \"abc-0123\"", "\"abc-0123\"x", "**", "w/\"abc-0123\""})
        EXPECT_FALSE(IfNoneMatchHas(no, tag)) << no;
    // A long hostile list costs one pass and matches nothing.
    std::string many(60000, ',');
    EXPECT_FALSE(IfNoneMatchHas(many, tag));
    EXPECT_TRUE(IfNoneMatchHas(many + std::string(tag), tag));
}

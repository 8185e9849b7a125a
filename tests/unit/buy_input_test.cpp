// Unit tests for pay/buy's body parsing: media type, text, duplicate keys, strict field types and
// unknown fields.
#include "orderpay/handlers/buy_input.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_request.hpp"
#include "orderpay/http/utf8.hpp"

using orderpay::handlers::BuyInput;
using orderpay::handlers::ParseInput;

namespace {

using Outcome = orderpay::test::Parsed<BuyInput>;

Outcome Parse(const std::string& body, const std::string& content_type = "application/json") {
    return orderpay::test::ParseBody<BuyInput>(ParseInput, body, content_type);
}

const std::string kLine = R"("products":[{"id":"demo-tea","amount":2}])";

}  // namespace

TEST(BuyInput, ReadsAWellFormedBody) {
    Outcome o = Parse("{" + kLine + R"(,"pay_tp":"wx.qrcode","tp":"Q","title":"绿茶","note":"n",)" +
                      R"("auth_code":"130","email":"a@b.c"})");
    ASSERT_EQ(o.status, 200) << o.msg;
    ASSERT_EQ(o.in.lines.size(), 1u);
    EXPECT_EQ(o.in.lines[0].product_id, "demo-tea");
    EXPECT_EQ(o.in.lines[0].amount, 2);
    EXPECT_EQ(o.in.pay_tp, "wx.qrcode");
    EXPECT_EQ(o.in.tp, "Q");
    EXPECT_EQ(o.in.title, "绿茶");
    EXPECT_EQ(o.in.pay.auth_code, "130");
    EXPECT_EQ(o.in.contact_json, R"({"email":"a@b.c"})");
    EXPECT_EQ(Parse(R"({"products":[{"id":"x"}]})").in.lines[0].amount, 1);  // amount defaults to 1
}

TEST(BuyInput, ContentTypeMustBeJson) {
    const std::string body = "{" + kLine + R"(,"pay_tp":"wx.qrcode"})";
    EXPECT_EQ(Parse(body, "application/json; charset=utf-8").status, 200);
    for (const char* ct : {"", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"}) {
        Outcome o = Parse(body, ct);
        EXPECT_EQ(o.status, 415) << ct;
        EXPECT_EQ(o.code, "e.www.api.unsupported_media_type") << ct;
    }
}

TEST(BuyInput, BadTextIsAnEncodingError) {
    for (const std::string& body :
         {std::string(R"({"products":[{"id":"demo-tea\u0000a"}],"pay_tp":"wx.qrcode"})"),
          "{" + kLine + R"(,"title":")" + "\xff\xfe" + R"("})", "{" + kLine + R"(,"phone":"1\u0000"})",
          "{" + kLine + R"(,"note":"\udc00"})"}) {
        Outcome o = Parse(body);
        EXPECT_EQ(o.status, 400) << body;
        EXPECT_EQ(o.code, "e.www.api.invalid.encoding") << body;
    }
}

TEST(BuyInput, DuplicateKeysAreBadJson) {
    for (const std::string& body : {"{" + kLine + R"(,"pay_tp":"wx.qrcode","pay_tp":"zfb.qrcode"})",
                                    std::string(R"({"products":[{"id":"a","id":"b"}],"pay_tp":"wx.qrcode"})"),
                                    "{" + kLine + "," + kLine + "}"}) {
        Outcome o = Parse(body);
        EXPECT_EQ(o.status, 400) << body;
        EXPECT_EQ(o.code, "e.www.api.invalid.json") << body;
    }
}

TEST(BuyInput, AFieldOfTheWrongTypeIsNamed) {
    struct Case {
        std::string extra, field;
    };
    for (const Case& c : {Case{R"("title":5)", "title"}, Case{R"("note":["x"])", "note"},
                          Case{R"("tp":1)", "tp"}, Case{R"("pay_tp":1)", "pay_tp"},
                          Case{R"("auth_code":130)", "auth_code"}, Case{R"("email":{"x":1})", "email"},
                          Case{R"("phone":13800000000)", "phone"}, Case{R"("company":true)", "company"}}) {
        Outcome o = Parse("{" + kLine + "," + c.extra + "}");
        EXPECT_EQ(o.status, 400) << c.extra;
        EXPECT_EQ(o.code, "e.www.order.invalid.field") << c.extra;
        EXPECT_NE(o.msg.find(c.field), std::string::npos) << c.extra << ": " << o.msg;
    }
}

TEST(BuyInput, ProductFieldsOfTheWrongTypeAreNamed) {
    for (const char* products : {R"([{"id":5}])", R"([{"id":null}])", R"([{"amount":1}])",
                                 R"([{"id":"a","amount":"2"}])", R"([{"id":"a","amount":[1]}])"}) {
        Outcome o = Parse(std::string(R"({"products":)") + products + "}");
        EXPECT_EQ(o.status, 400) << products;
        EXPECT_EQ(o.code, "e.www.order.invalid.field") << products;
        EXPECT_NE(o.msg.find("products[]."), std::string::npos) << products << ": " << o.msg;
    }
    EXPECT_EQ(Parse(R"({"products":"demo-tea"})").code, "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"products":["demo-tea"]})").code, "e.www.order.invalid.field");
    // A number that is not a whole count stays a bad amount; a missing or empty list, no products.
    EXPECT_EQ(Parse(R"({"products":[{"id":"a","amount":1.5}]})").code, "e.www.order.invalid.amount");
    EXPECT_EQ(Parse(R"({"products":[{"id":"a","amount":1e30}]})").code, "e.www.order.invalid.amount");
    EXPECT_EQ(Parse(R"({"products":[]})").code, "e.www.order.nil.products");
    EXPECT_EQ(Parse(R"({"pay_tp":"wx.qrcode"})").code, "e.www.order.nil.products");
}

TEST(BuyInput, NullIsNoValue) {
    // As the seed's nil codes read it: "pay_tp":null is a missing pay_tp, not a wrong type.
    Outcome o = Parse("{" + kLine + R"(,"pay_tp":null,"title":null,"tp":null,"email":null})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.pay_tp, "");
    EXPECT_EQ(o.in.tp, "A");
    EXPECT_EQ(o.in.contact_json, "{}");
    EXPECT_EQ(Parse(R"({"products":[{"id":"a","amount":null}]})").in.lines.at(0).amount, 1);
    EXPECT_EQ(Parse(R"({"products":null})").code, "e.www.order.nil.products");
}

TEST(BuyInput, StringValuesKeepTheirOldChecks) {
    EXPECT_EQ(Parse("{" + kLine + R"(,"tp":"Z"})").code, "e.www.order.invalid.tp");
    EXPECT_EQ(Parse("{" + kLine + R"(,"title":")" + std::string(129, 'x') + "\"}").code,
              "e.www.order.invalid.field");
    EXPECT_EQ(Parse("{" + kLine + R"(,"city":")" + std::string(257, 'x') + "\"}").code,
              "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"products":[{"id":""}]})").code, "e.www.order.invalid.field");
    EXPECT_EQ(Parse("[1]").code, "e.www.api.invalid.json");
}

TEST(BuyInput, EveryKnownFieldIsAccepted) {
    Outcome o =
        Parse(R"({"products":[{"id":"demo-tea","amount":2}],"pay_tp":"wx.scan","auth_code":"130","tp":"A",)"
              R"("title":"t","note":"n","idempotency_key":"k-1","name":"N","phone":"1","email":"e",)"
              R"("country":"CN","province":"p","city":"c","district":"d","address":"a","postcode":"1",)"
              R"("company":"co"})");
    ASSERT_EQ(o.status, 200) << o.msg;
    EXPECT_EQ(o.in.idempotency_key, "k-1");
    EXPECT_NE(o.in.contact_json.find(R"("company":"co")"), std::string::npos) << o.in.contact_json;
}

// A misspelt field used to be dropped: a misspelt idempotency key lost retry safety, a line's
// "qty" bought 1. Refused by name, the line's by its place, before any other check of the body.
TEST(BuyInput, UnknownFieldsAreRefusedByName) {
    struct Case {
        std::string body, msg;
    };
    for (const Case& c : {
             Case{"{" + kLine + R"(,"pay_tp":"wx.qrcode","idempotencyKey":"k-1"})",
                  "unknown field idempotencyKey"},
             Case{"{" + kLine + R"(,"pay_tp":"wx.qrcode","Idempotency-Key":"k-1"})",
                  "unknown field Idempotency-Key"},
             Case{"{" + kLine + R"(,"pay_tp":"wx.qrcode","headers":{"Idempotency-Key":"k"}})",
                  "unknown field headers"},
             Case{"{" + kLine + R"(,"pay_tp":"wx.qrcode","price":0.01})", "unknown field price"},
             Case{"{" + kLine + R"(,"pay_tp":"wx.qrcode","evil":null})", "unknown field evil"},
             Case{R"({"product":[{"id":"demo-tea"}],"pay_tp":"wx.qrcode"})", "unknown field product"},
             Case{R"({"products":[{"id":"demo-tea","qty":3}],"pay_tp":"wx.qrcode"})",
                  "unknown field products[0].qty"},
             Case{R"({"products":[{"id":"a"},{"id":"b","amount":1,"price":null}]})",
                  "unknown field products[1].price"},
             Case{R"({"products":[{"qty":3}]})", "unknown field products[0].qty"},
         }) {
        Outcome o = Parse(c.body);
        EXPECT_EQ(o.status, 400) << c.body;
        EXPECT_EQ(o.code, "e.www.order.invalid.field") << c.body;
        EXPECT_EQ(o.msg, c.msg) << c.body;
    }
}

TEST(BuyInput, AnUnknownFieldIsEchoedBoundedOnACharacterBoundary) {
    Outcome o = Parse("{" + kLine + R"(,")" + std::string(10000, 'k') + R"(":1})");
    EXPECT_EQ(o.code, "e.www.order.invalid.field");
    EXPECT_EQ(o.msg, "unknown field " + std::string(64, 'k') + "…");
    // 1 + 2 x 5000 bytes: the 64th byte is the first of a character, which is left out whole.
    std::string key = "a";
    for (int i = 0; i < 5000; ++i) key += "é";
    std::string want = "unknown field a";
    for (int i = 0; i < 31; ++i) want += "é";
    for (const std::string& body :
         {"{" + kLine + R"(,")" + key + R"(":1})", R"({"products":[{"id":"x",")" + key + R"(":1}]})"}) {
        o = Parse(body);
        EXPECT_TRUE(orderpay::http::IsUtf8(o.msg)) << o.msg;
        EXPECT_EQ(o.msg.substr(o.msg.size() - 3), "…");
        EXPECT_LE(o.msg.size(), 100u) << o.msg;
    }
    EXPECT_EQ(Parse("{" + kLine + R"(,")" + key + R"(":1})").msg, want + "…");
}

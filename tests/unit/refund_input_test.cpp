// Unit tests for admin/refund's body parsing and the refund amount: major units to minor units
// exactly (strings and JSON numbers), never a rounded float; reasons and idempotency keys.
#include "orderpay/handlers/refund_input.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_request.hpp"

using orderpay::handlers::ParseRefundInput;
using orderpay::handlers::RefundAmount;
using orderpay::handlers::RefundInput;
using orderpay::handlers::ValidIdempotencyKey;
using orderpay::handlers::ValidReason;

namespace {

using Outcome = orderpay::test::Parsed<RefundInput>;

Outcome Parse(const std::string& body, const std::string& content_type = "application/json") {
    return orderpay::test::ParseBody<RefundInput>(ParseRefundInput, body, content_type);
}

std::string Body(const std::string& amount_member) {
    return R"({"order":"abc123",)" + amount_member + R"("reason":"returned","idempotency_key":"k1"})";
}

}  // namespace

TEST(RefundAmount, MajorUnitsToMinorExactly) {
    EXPECT_EQ(RefundAmount("7.50", 2), 750);
    EXPECT_EQ(RefundAmount("7.5", 2), 750);
    EXPECT_EQ(RefundAmount("8", 2), 800);
    EXPECT_EQ(RefundAmount("0.01", 2), 1);
    EXPECT_EQ(RefundAmount("1200", 0), 1200);  // JPY
    EXPECT_EQ(RefundAmount("999999999999999.99", 2), 99999999999999999);
}

TEST(RefundAmount, RefusesAnythingButAPositiveDecimalWithinTheCurrencysDecimals) {
    for (const char* bad : {"0", "0.00", "-1", "-0.01", "+1", "7.555", "7.", ".5", "1e3", "abc", "", " 7.50",
                            "7.50 ", "7,50", "0x10", "1234567890123456"})
        EXPECT_FALSE(RefundAmount(bad, 2)) << bad;
    EXPECT_FALSE(RefundAmount("1.5", 0));  // JPY has no decimals
}

TEST(RefundInput, AmountAsStringOrNumberKeepsItsText) {
    Outcome o = Parse(Body(R"("amount":"7.50",)"));
    ASSERT_EQ(o.status, 200) << o.code;
    EXPECT_EQ(o.in.amount, "7.50");
    EXPECT_EQ(o.in.order, "abc123");
    EXPECT_EQ(o.in.reason, "returned");
    EXPECT_EQ(o.in.idempotency_key, "k1");
    // A JSON number by the characters it is written in, never through a double: 7.50 stays 7.50,
    // 7.555 stays 7.555 (refused later, never rounded to 7.56), 0.1 stays 0.1, and spellings whose
    // shortest round-trip form would look valid stay as sent, so they are refused like the same
    // strings (1e0 would be "1.0", 7.5000000000000001 would be "7.5").
    EXPECT_EQ(Parse(Body(R"("amount":7.5,)")).in.amount, "7.5");
    EXPECT_EQ(Parse(Body(R"("amount":7.50,)")).in.amount, "7.50");
    EXPECT_EQ(Parse(Body(R"("amount":0.1,)")).in.amount, "0.1");
    EXPECT_EQ(Parse(Body(R"("amount":25,)")).in.amount, "25");
    EXPECT_EQ(Parse(Body(R"("amount" : 1E1 ,)")).in.amount, "1E1");
    EXPECT_EQ(Parse(Body(R"("amount":7.5000000000000001,)")).in.amount, "7.5000000000000001");
    for (const char* bad :
         {"7.555", "1e30", "-3", "1e0", "1E1", "5e-1", "0.5e1", "7.5000000000000001", "-0"}) {
        Outcome o = Parse(Body(std::string("\"amount\":") + bad + ","));
        ASSERT_EQ(o.status, 200) << bad;
        EXPECT_FALSE(RefundAmount(*o.in.amount, 2)) << bad;
    }
    EXPECT_EQ(RefundAmount(*Parse(Body(R"("amount":7.50,)")).in.amount, 2), 750);
    // Past 32 characters a number is refused before anything reads it.
    EXPECT_EQ(Parse(Body(R"("amount":1234567890123456789012345678901234567890,)")).code,
              "e.www.refund.invalid.amount");
    // Absent or null: all that is left.
    EXPECT_FALSE(Parse(Body("")).in.amount);
    EXPECT_FALSE(Parse(Body(R"("amount":null,)")).in.amount);
}

TEST(RefundInput, WrongTypesAndMissingFields) {
    EXPECT_EQ(Parse(Body(R"("amount":true,)")).code, "e.www.refund.invalid.amount");
    EXPECT_EQ(Parse(Body(R"("amount":[1],)")).code, "e.www.refund.invalid.amount");
    EXPECT_EQ(Parse(Body(R"("amount":"",)")).code, "e.www.refund.invalid.amount");
    EXPECT_EQ(Parse(R"({"reason":"r","idempotency_key":"k"})").code, "e.www.order.nil.id");
    EXPECT_EQ(Parse(R"({"order":5,"reason":"r","idempotency_key":"k"})").code, "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"order":"","reason":"r","idempotency_key":"k"})").code, "e.www.order.nil.id");
    EXPECT_EQ(Parse(R"({"order":"a","idempotency_key":"k"})").code, "e.www.refund.invalid.reason");
    EXPECT_EQ(Parse(R"({"order":"a","reason":"","idempotency_key":"k"})").code,
              "e.www.refund.invalid.reason");
    EXPECT_EQ(Parse(R"({"order":"a","reason":"r"})").code, "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"order":"a","reason":"r","idempotency_key":"a b"})").code,
              "e.www.order.invalid.field");
    EXPECT_EQ(Parse("[]").code, "e.www.api.invalid.json");
    EXPECT_EQ(Parse("{").code, "e.www.api.invalid.json");
    EXPECT_EQ(Parse(Body(""), "text/plain").status, 415);
    EXPECT_EQ(Parse(std::string(5000, ' ') + Body("")).status, 413);
    EXPECT_EQ(Parse("{\"order\":\"a\",\"reason\":\"\xff\",\"idempotency_key\":\"k\"}").code,
              "e.www.api.invalid.encoding");
}

TEST(RefundInput, ASlipInsteadOfAnOrderIsRefundedWhole) {
    Outcome o = Parse(R"({"slip":"s1","reason":"late","idempotency_key":"k"})");
    ASSERT_EQ(o.status, 200) << o.code;
    EXPECT_EQ(o.in.slip, "s1");
    EXPECT_EQ(o.in.order, "");
    EXPECT_FALSE(o.in.amount);
    // Exactly one of the two: both would leave it to the server which money goes back.
    EXPECT_EQ(Parse(R"({"order":"a","slip":"s1","reason":"r","idempotency_key":"k"})").code,
              "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"slip":"","reason":"r","idempotency_key":"k"})").code, "e.www.order.nil.id");
    EXPECT_EQ(Parse(R"({"slip":5,"reason":"r","idempotency_key":"k"})").code, "e.www.order.invalid.field");
    // No amount with a slip, not even null: such a slip is owed back whole.
    for (const char* amount : {R"("1.00")", "1", "null"})
        EXPECT_EQ(
            Parse(std::string(R"({"slip":"s1","reason":"r","idempotency_key":"k","amount":)") + amount + "}")
                .code,
            "e.www.refund.invalid.amount")
            << amount;
    // The other fields are read as for an order.
    EXPECT_EQ(Parse(R"({"slip":"s1","idempotency_key":"k"})").code, "e.www.refund.invalid.reason");
    EXPECT_EQ(Parse(R"({"slip":"s1","reason":"r"})").code, "e.www.order.invalid.field");
    EXPECT_EQ(Parse(R"({"slip":"s1","reason":"r","idempotency_key":"k","slips":["s1"]})").code,
              "e.www.order.invalid.field");
}

TEST(RefundInput, UnknownFieldsAreRefusedByName) {
    // Without "amount" the refund is all that is left: a misspelt one must not read as absent.
    for (const char* name : {"amout", "Amount", "refund_amount", "currency", "note"}) {
        Outcome o = Parse(Body(std::string("\"") + name + "\":\"1.00\","));
        EXPECT_EQ(o.code, "e.www.order.invalid.field") << name;
        EXPECT_EQ(o.msg, std::string("unknown field ") + name) << name;
    }
    EXPECT_EQ(Parse(Body(R"("amount":"1.00",)")).status, 200);
}

TEST(RefundInput, Reasons) {
    EXPECT_TRUE(ValidReason("x"));
    EXPECT_TRUE(ValidReason(std::string(80, 'x')));
    std::string chinese;
    for (int i = 0; i < 80; ++i) chinese += "\xe9\x80\x80";  // 80 characters, 240 bytes
    EXPECT_TRUE(ValidReason(chinese));
    EXPECT_FALSE(ValidReason(chinese + "x"));
    EXPECT_FALSE(ValidReason(""));
    EXPECT_FALSE(ValidReason(std::string(81, 'x')));
    EXPECT_FALSE(ValidReason("tab\there"));
    EXPECT_FALSE(ValidReason("line\nbreak"));
    EXPECT_FALSE(ValidReason("del\x7f"));
    // Plain text that says something: no C1 control, bidi control, invisible or separator
    // character, and not only spaces of any script.
    EXPECT_TRUE(
        ValidReason("a\xc2\xa0"
                    "b"));                            // a no-break space between words
    EXPECT_TRUE(ValidReason("\xf0\x9f\x98\x80 ok"));  // an emoji
    for (const char* bad : {"nel\xc2\x85", "rlo\xe2\x80\xae", "lri\xe2\x81\xa6", "zw\xe2\x80\x8b",
                            "ls\xe2\x80\xa8", "bom\xef\xbb\xbf", "nc\xef\xbf\xbe", "   ", "\xc2\xa0",
                            "\xe3\x80\x80\xe3\x80\x80", "\xe2\x80\x8b", "\xff"})
        EXPECT_FALSE(ValidReason(bad)) << bad;
}

TEST(RefundInput, IdempotencyKeys) {
    EXPECT_TRUE(ValidIdempotencyKey("rma-1042"));
    EXPECT_TRUE(ValidIdempotencyKey(std::string(128, 'k')));
    EXPECT_FALSE(ValidIdempotencyKey(""));
    EXPECT_FALSE(ValidIdempotencyKey(std::string(129, 'k')));
    EXPECT_FALSE(ValidIdempotencyKey("has space"));
    EXPECT_FALSE(ValidIdempotencyKey("caf\xc3\xa9"));
}

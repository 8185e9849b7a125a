// Unit tests for http/form: percent-decoding, '+' handling, raw bytes and form parsing.
#include "orderpay/http/form.hpp"

#include <gtest/gtest.h>

namespace orderpay::http {
namespace {

TEST(FormTest, PercentDecodeBasics) {
    EXPECT_EQ(PercentDecode("", true), "");
    EXPECT_EQ(PercentDecode("abc", true), "abc");
    EXPECT_EQ(PercentDecode("a%20b", true), "a b");
    EXPECT_EQ(PercentDecode("%2f%2F", true), "//");
    EXPECT_EQ(PercentDecode("%00", true), std::string(1, '\0'));
    EXPECT_EQ(PercentDecode("%E6%B5%8B%E8%AF%95", true), "测试");
}

TEST(FormTest, PlusVersusEncodedPlus) {
    // V-ALI-1: subject "yansongda+测试 - 1" is sent as below; '+' is a space, %2B a literal '+'.
    EXPECT_EQ(PercentDecode("yansongda%2B%E6%B5%8B%E8%AF%95+-+1", true), "yansongda+测试 - 1");
    EXPECT_EQ(PercentDecode("a+b%2Bc", false), "a+b+c");
    EXPECT_EQ(PercentDecode("+++", true), "   ");
}

TEST(FormTest, GbkBytesPassThrough) {
    // "测试" in GBK is B2 E2 CA D4: not UTF-8, and must come out byte for byte.
    EXPECT_EQ(PercentDecode("%B2%E2%CA%D4", true), "\xB2\xE2\xCA\xD4");
    EXPECT_EQ(PercentDecode("\xB2\xE2", true), "\xB2\xE2");
    const auto pairs = ParseForm("subject=%B2%E2%CA%D4&charset=GBK");
    ASSERT_TRUE(pairs);
    EXPECT_EQ(FormValue(*pairs, "subject"), "\xB2\xE2\xCA\xD4");
}

TEST(FormTest, MalformedEscapesRejected) {
    for (const char* bad : {"%", "%2", "a%", "a%g0", "%0g", "%%", "%%41", "%-1", "%+1", "% 1", "ok%2"})
        EXPECT_FALSE(PercentDecode(bad, true)) << bad;
    EXPECT_FALSE(ParseForm("a=%zz"));
    EXPECT_FALSE(ParseForm("a%=1"));
    EXPECT_FALSE(ParseForm("a=1&b=%4"));
}

TEST(FormTest, DecodeIsSinglePass) {
    // %2541 is "%41" after one decode; decoding twice would wrongly produce "A".
    EXPECT_EQ(PercentDecode("%2541", true), "%41");
}

TEST(FormTest, ParseFormOrderAndEdgeCases) {
    const auto pairs = ParseForm("a=1&&b=2&flag&c=&=v&a=3&d=x=y&");
    ASSERT_TRUE(pairs);
    const FormPairs expected = {{"a", "1"}, {"b", "2"}, {"flag", ""}, {"c", ""},
                                {"", "v"},  {"a", "3"}, {"d", "x=y"}};
    EXPECT_EQ(*pairs, expected);
    EXPECT_EQ(FormValue(*pairs, "a"), "1");  // first value wins
    EXPECT_EQ(FormValue(*pairs, "flag"), "");
    EXPECT_FALSE(FormValue(*pairs, "missing"));
    EXPECT_FALSE(FormValue(*pairs, "A"));  // names are case-sensitive
}

TEST(FormTest, ParseFormEmptyAndSeparatorsOnly) {
    EXPECT_EQ(ParseForm("")->size(), 0u);
    EXPECT_EQ(ParseForm("&&&")->size(), 0u);
}

TEST(FormTest, ParseFormDecodesNamesAndPlus) {
    const auto pairs = ParseForm("my+name=a+b&x%5B0%5D=%2B");
    ASSERT_TRUE(pairs);
    EXPECT_EQ(FormValue(*pairs, "my name"), "a b");
    EXPECT_EQ(FormValue(*pairs, "x[0]"), "+");
}

TEST(FormTest, ParseFormMaxPairs) {
    EXPECT_TRUE(ParseForm("a=1&b=2&c=3", 3));
    EXPECT_FALSE(ParseForm("a=1&b=2&c=3&d=4", 3));
    EXPECT_TRUE(ParseForm("a=1&&&b=2&&", 2));  // empty segments are not pairs
    EXPECT_FALSE(ParseForm("a", 0));
    EXPECT_TRUE(ParseForm("", 0));

    std::string many;
    for (int i = 0; i < 257; ++i) many += "k=v&";
    EXPECT_FALSE(ParseForm(many));
}

TEST(FormTest, PercentEncode) {
    EXPECT_EQ(PercentEncode(""), "");
    EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(PercentEncode("a b+c&d=e/f"), "a%20b%2Bc%26d%3De%2Ff");
    EXPECT_EQ(PercentEncode("测"), "%E6%B5%8B");
    EXPECT_EQ(PercentEncode(std::string("\0\xff", 2)), "%00%FF");
    EXPECT_EQ(PercentEncode("*'()!"), "%2A%27%28%29%21");
}

TEST(FormTest, EncodeFormRoundTrip) {
    const FormPairs pairs = {
        {"subject", "yansongda+测试 - 1"}, {"k&=", "v&=%"}, {"empty", ""}, {"gbk", "\xB2\xE2"}};
    const std::string encoded = EncodeForm(pairs);
    EXPECT_EQ(encoded.find(' '), std::string::npos);
    EXPECT_TRUE(encoded.starts_with("subject=yansongda%2B%E6%B5%8B%E8%AF%95%20-%201&")) << encoded;
    const auto back = ParseForm(encoded);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, pairs);
    EXPECT_EQ(EncodeForm({}), "");
}

// Query strings read by name (review s30 Info 4): a repeat or a nameless argument is refused,
// naming it, never read first-wins.
TEST(FormTest, RepeatedNameIsFoundAfterDecodingAndCaseSensitively) {
    EXPECT_EQ(RepeatedName({}), std::nullopt);
    EXPECT_EQ(RepeatedName({{"id", "A"}, {"ticket", "t"}}), std::nullopt);
    EXPECT_EQ(RepeatedName({{"id", "A"}, {"ID", "B"}, {"Id", "C"}}), std::nullopt);
    EXPECT_EQ(RepeatedName({{"a", "1"}, {"id", "A"}, {"b", "1"}, {"id", "B"}}), "id");
    // The first name that repeats, in arrival order.
    EXPECT_EQ(RepeatedName({{"b", "1"}, {"a", "1"}, {"a", "2"}, {"b", "2"}}), "b");
    EXPECT_EQ(RepeatedName(*ParseForm("i%64=A&id=B")), "id");
    EXPECT_EQ(RepeatedName(*ParseForm("my+name=1&my%20name=2")), "my name");
    EXPECT_EQ(RepeatedName(*ParseForm("id&id=")), "id");
}

TEST(FormTest, ParseQueryRefusesRepeatsAndNamelessArguments) {
    std::string error;
    auto ok = ParseQuery("ticket=t&id=A&ID=B", error);
    ASSERT_TRUE(ok) << error;
    EXPECT_EQ(*ok, (FormPairs{{"ticket", "t"}, {"id", "A"}, {"ID", "B"}}));
    EXPECT_TRUE(ParseQuery("", error));
    EXPECT_TRUE(ParseQuery("&&", error));
    EXPECT_EQ(ParseQuery("&&id=A&&ticket=t&", error)->size(), 2u);

    const std::pair<const char*, const char*> refused[] = {
        {"id=A&id=B", "argument \"id\" is given more than once"},
        {"id=A&id=A", "argument \"id\" is given more than once"},
        {"ticket=bad&id=A&ticket=good", "argument \"ticket\" is given more than once"},
        {"i%64=A&id=B", "argument \"id\" is given more than once"},
        {"%74icket=A&ticket=B", "argument \"ticket\" is given more than once"},
        {"id&id", "argument \"id\" is given more than once"},
        {"%00=1&%00=2", "argument \"\\x00\" is given more than once"},
        {"=x", "an argument has no name"},
        {"id=A&=", "an argument has no name"},
        {"id=A&=x&id=B", "an argument has no name"},
        {"id=%zz", "a '%' is not followed by two hex digits"},
        {"i%6=A", "a '%' is not followed by two hex digits"},
    };
    for (const auto& [query, why] : refused) {
        error.clear();
        EXPECT_FALSE(ParseQuery(query, error)) << query;
        EXPECT_EQ(error, why) << query;
    }
}

TEST(FormTest, ParseQueryLimitsTheNumberOfArguments) {
    std::string q;
    for (int i = 0; i < 256; ++i) q += "a" + std::to_string(i) + "=1&";
    std::string error;
    EXPECT_TRUE(ParseQuery(q, error)) << error;
    EXPECT_FALSE(ParseQuery(q + "z=1", error));
    EXPECT_EQ(error, "more than 256 arguments");
    EXPECT_FALSE(ParseQuery("a=1&b=2&c=3", error, 2));
    EXPECT_EQ(error, "more than 2 arguments");
}

TEST(FormTest, QuotedNameShowsPrintableAsciiAndEscapesTheRest) {
    EXPECT_EQ(QuotedName("id"), "\"id\"");
    EXPECT_EQ(QuotedName(""), "\"\"");
    EXPECT_EQ(QuotedName("a\"b\\c"), "\"a\\x22b\\x5cc\"");
    EXPECT_EQ(QuotedName(std::string("\0\x1b\x7f\xe6\xb5\x8b", 6)), "\"\\x00\\x1b\\x7f\\xe6\\xb5\\x8b\"");
    EXPECT_EQ(QuotedName(std::string(40, 'x')), "\"" + std::string(40, 'x') + "\"");
    EXPECT_EQ(QuotedName(std::string(41, 'x')), "\"" + std::string(40, 'x') + "...\"");
    EXPECT_EQ(QuotedName(std::string(100000, 'x')).size(), 45u);
}

}  // namespace
}  // namespace orderpay::http

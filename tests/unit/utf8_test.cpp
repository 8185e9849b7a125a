// Unit tests for the UTF-8 validator: every class of ill-formed sequence, and NUL.
#include "orderpay/http/utf8.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "orderpay/http/xml.hpp"

using orderpay::http::IsText;
using orderpay::http::IsUtf8;

namespace {

std::string B(std::initializer_list<unsigned> bytes) {
    std::string s;
    for (unsigned b : bytes) s.push_back(static_cast<char>(b));
    return s;
}

}  // namespace

TEST(Utf8, AcceptsWellFormedText) {
    EXPECT_TRUE(IsUtf8(""));
    EXPECT_TRUE(IsUtf8("plain ascii ~\x7f"));
    EXPECT_TRUE(IsUtf8("绿茶 café ☕ 😀"));
    EXPECT_TRUE(IsUtf8(B({0xC2, 0x80})));              // U+0080, the first 2-byte code point
    EXPECT_TRUE(IsUtf8(B({0xDF, 0xBF})));              // U+07FF
    EXPECT_TRUE(IsUtf8(B({0xE0, 0xA0, 0x80})));        // U+0800, the first 3-byte one
    EXPECT_TRUE(IsUtf8(B({0xED, 0x9F, 0xBF})));        // U+D7FF, just below the surrogates
    EXPECT_TRUE(IsUtf8(B({0xEE, 0x80, 0x80})));        // U+E000, just above them
    EXPECT_TRUE(IsUtf8(B({0xEF, 0xBF, 0xBF})));        // U+FFFF
    EXPECT_TRUE(IsUtf8(B({0xF0, 0x90, 0x80, 0x80})));  // U+10000, the first 4-byte one
    EXPECT_TRUE(IsUtf8(B({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF, the last code point
    EXPECT_TRUE(IsUtf8(std::string("a\0b", 3)));       // NUL is valid UTF-8 ...
    EXPECT_FALSE(IsText(std::string("a\0b", 3)));      // ... but not text for us
    EXPECT_TRUE(IsText("绿茶"));
    EXPECT_TRUE(IsText(""));
}

TEST(Utf8, RejectsOverlongForms) {
    EXPECT_FALSE(IsUtf8(B({0xC0, 0x80})));              // NUL in two bytes (Java's "modified UTF-8")
    EXPECT_FALSE(IsUtf8(B({0xC1, 0xBF})));              // U+007F in two bytes
    EXPECT_FALSE(IsUtf8(B({0xC0, 0xAF})));              // '/' in two bytes: the classic path trick
    EXPECT_FALSE(IsUtf8(B({0xE0, 0x80, 0xAF})));        // '/' in three
    EXPECT_FALSE(IsUtf8(B({0xE0, 0x9F, 0xBF})));        // U+07FF in three
    EXPECT_FALSE(IsUtf8(B({0xF0, 0x80, 0x80, 0xAF})));  // '/' in four
    EXPECT_FALSE(IsUtf8(B({0xF0, 0x8F, 0xBF, 0xBF})));  // U+FFFF in four
}

TEST(Utf8, RejectsSurrogates) {
    EXPECT_FALSE(IsUtf8(B({0xED, 0xA0, 0x80})));                    // U+D800
    EXPECT_FALSE(IsUtf8(B({0xED, 0xAF, 0xBF})));                    // U+DBFF
    EXPECT_FALSE(IsUtf8(B({0xED, 0xB0, 0x80})));                    // U+DC00 (a lone low surrogate)
    EXPECT_FALSE(IsUtf8(B({0xED, 0xBF, 0xBF})));                    // U+DFFF
    EXPECT_FALSE(IsUtf8(B({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80})));  // a CESU-8 pair for U+1F600
}

TEST(Utf8, RejectsCodePointsAboveU10FFFF) {
    EXPECT_FALSE(IsUtf8(B({0xF4, 0x90, 0x80, 0x80})));  // U+110000
    EXPECT_FALSE(IsUtf8(B({0xF5, 0x80, 0x80, 0x80})));
    EXPECT_FALSE(IsUtf8(B({0xF7, 0xBF, 0xBF, 0xBF})));              // U+1FFFFF
    EXPECT_FALSE(IsUtf8(B({0xF8, 0x88, 0x80, 0x80, 0x80})));        // old 5-byte form
    EXPECT_FALSE(IsUtf8(B({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80})));  // old 6-byte form
}

TEST(Utf8, RejectsTruncatedSequences) {
    EXPECT_FALSE(IsUtf8(B({0xC3})));  // at the end
    EXPECT_FALSE(IsUtf8(B({0xE4, 0xBD})));
    EXPECT_FALSE(IsUtf8(B({0xF0, 0x9F, 0x98})));
    EXPECT_FALSE(IsUtf8("ab" + B({0xE4, 0xBD}) + "c"));  // a lead byte followed by ASCII
    EXPECT_FALSE(IsUtf8("x" + B({0xF0, 0x9F}) + "yz"));
}

TEST(Utf8, RejectsStrayAndInvalidBytes) {
    EXPECT_FALSE(IsUtf8(B({0x80})));  // a continuation byte alone
    EXPECT_FALSE(IsUtf8("a" + B({0xBF}) + "b"));
    EXPECT_FALSE(IsUtf8(B({0xC3, 0xA9, 0xA9})));  // one continuation byte too many
    EXPECT_FALSE(IsUtf8(B({0xFF, 0xFE})));        // a UTF-16 byte-order mark, the bytes
    EXPECT_FALSE(IsUtf8(B({0xFE})));
    EXPECT_FALSE(IsUtf8(B({0xC3, 0xC3})));              // a lead byte where a continuation belongs
    EXPECT_FALSE(IsUtf8(B({0xD6, 0xA7, 0xB8, 0xB6})));  // "支付" in GBK
}

TEST(Utf8, FitUtf8CutsOnCharacterBoundaries) {
    // "中" is 3 bytes: 40 of them are 120 bytes, a 41st does not fit in 121 or 122.
    std::string han;
    for (int i = 0; i < 41; ++i) han += "\xe4\xb8\xad";
    EXPECT_EQ(orderpay::http::FitUtf8(han, 120).size(), 120u);
    EXPECT_EQ(orderpay::http::FitUtf8(han, 122).size(), 120u);
    EXPECT_EQ(orderpay::http::FitUtf8(han, 123).size(), 123u);
    EXPECT_TRUE(orderpay::http::IsUtf8(orderpay::http::FitUtf8(han, 121)));
}

TEST(Utf8, FitUtf8DropsBadBytesAndBlanksControls) {
    using orderpay::http::FitUtf8;
    EXPECT_EQ(FitUtf8("a\tb\nc\x7f"
                      "d",
                      100),
              "a b c d");
    EXPECT_EQ(FitUtf8("x\xff\xfey", 100), "xy");             // not UTF-8 at all
    EXPECT_EQ(FitUtf8("x\xc0\xafy", 100), "xy");             // overlong '/'
    EXPECT_EQ(FitUtf8("x\xed\xa0\x80y", 100), "xy");         // a surrogate
    EXPECT_EQ(FitUtf8("x\xe4\xb8", 100), "x");               // a character cut short at the end
    EXPECT_EQ(FitUtf8(std::string("a\0b", 3), 100), "a b");  // NUL is a control character
    EXPECT_EQ(FitUtf8("\xf0\x9f\x98\x80", 3), "");           // a 4-byte emoji does not fit in 3
    EXPECT_EQ(FitUtf8("", 10), "");
}

TEST(Utf8, FitUtf8BlanksWhatXmlCannotCarry) {
    using orderpay::http::FitUtf8;
    // U+FFFE and U+FFFF are UTF-8 but not XML 1.0 characters; U+FFFD and U+10000 are both.
    EXPECT_EQ(FitUtf8("a\xef\xbf\xbe"
                      "b\xef\xbf\xbf"
                      "c",
                      100),
              "a b c");
    EXPECT_EQ(FitUtf8("\xef\xbf\xbd\xf0\x90\x80\x80", 100), "\xef\xbf\xbd\xf0\x90\x80\x80");
    EXPECT_EQ(FitUtf8("\xef\xbf\xbc", 100), "\xef\xbf\xbc");  // U+FFFC stays
    EXPECT_TRUE(orderpay::http::IsXmlText(FitUtf8("x\xef\xbf\xbf\x01y", 100), false));
}

TEST(Utf8, AppendUtf8WritesEachLengthAtItsBoundaries) {
    const std::pair<char32_t, std::string> cases[] = {
        {0x24, "\x24"},
        {0x7F, "\x7F"},
        {0x80, "\xC2\x80"},
        {0x7FF, "\xDF\xBF"},
        {0x800, "\xE0\xA0\x80"},
        {0x8336, "\xE8\x8C\xB6"},
        {0xFFFD, "\xEF\xBF\xBD"},
        {0x10000, "\xF0\x90\x80\x80"},
        {0x10FFFF, "\xF4\x8F\xBF\xBF"},
    };
    for (const auto& [cp, bytes] : cases) {
        std::string out = "a";
        orderpay::http::AppendUtf8(out, cp);
        EXPECT_EQ(out, "a" + bytes) << std::hex << static_cast<unsigned>(cp);
        EXPECT_TRUE(IsUtf8(out));
    }
}

TEST(Utf8, TextOrEscapedKeepsTextAndCutsOnCharacterBoundaries) {
    using orderpay::http::TextOrEscaped;
    EXPECT_EQ(TextOrEscaped("provider: NOTENOUGH", 2000), "provider: NOTENOUGH");
    // "ab" then three-byte characters: a cut at 4 bytes would split the second one.
    const std::string cjk = "ab\xe4\xb8\xad\xe4\xb8\xad";
    EXPECT_EQ(TextOrEscaped(cjk, 8), cjk);
    EXPECT_EQ(TextOrEscaped(cjk, 7), "ab\xe4\xb8\xad");
    EXPECT_EQ(TextOrEscaped(cjk, 6), "ab\xe4\xb8\xad");
    EXPECT_EQ(TextOrEscaped(cjk, 4), "ab");
    EXPECT_EQ(TextOrEscaped(cjk, 0), "");
    EXPECT_TRUE(IsText(TextOrEscaped(cjk, 7)));
}

TEST(Utf8, TextOrEscapedWritesEveryByteOfNonTextAsHexAndStaysWithinTheLimit) {
    using orderpay::http::TextOrEscaped;
    EXPECT_EQ(TextOrEscaped(B({'a', 0xff, 'b'}), 100), "a\\xffb");
    EXPECT_EQ(TextOrEscaped(std::string("a\0b", 3), 100), "a\\x00b");
    // A character cut in two is not text: all of its bytes are written as hex, the rest as is.
    EXPECT_EQ(TextOrEscaped(B({'x', 0xe4, 0xb8, '\n'}), 100), "x\\xe4\\xb8\\x0a");
    EXPECT_EQ(TextOrEscaped(B({'a', 0xff, 'b'}), 4), "a");
    EXPECT_EQ(TextOrEscaped(B({'a', 0xff, 'b'}), 5), "a\\xff");
    const std::string long_bad = std::string(3000, 'z') + "\xff";
    EXPECT_EQ(TextOrEscaped(long_bad, 2000), std::string(2000, 'z'));
    EXPECT_TRUE(IsText(TextOrEscaped(B({0xc0, 0x80, 0xed, 0xa0, 0x80}), 100)));
}

TEST(Utf8, Utf8CharsCountsCharactersNotBytes) {
    using orderpay::http::Utf8Chars;
    EXPECT_EQ(Utf8Chars(""), 0u);
    EXPECT_EQ(Utf8Chars("abc"), 3u);
    EXPECT_EQ(Utf8Chars("ab\xe4\xb8\xad\xf0\x9f\x98\x80"), 4u);
}

TEST(Utf8, EqualsAsciiNoCaseFoldsOnlyAsciiLetters) {
    using orderpay::http::EqualsAsciiNoCase;
    EXPECT_TRUE(EqualsAsciiNoCase("UTF-8", "utf-8"));
    EXPECT_TRUE(EqualsAsciiNoCase("Application/JSON", "application/json"));
    EXPECT_TRUE(EqualsAsciiNoCase("", ""));
    EXPECT_FALSE(EqualsAsciiNoCase("utf-8 ", "utf-8"));
    EXPECT_FALSE(EqualsAsciiNoCase("utf_8", "utf-8"));
    EXPECT_FALSE(EqualsAsciiNoCase("\xc3\x89", "\xc3\xa9"));  // É is not é: only ASCII folds
    EXPECT_FALSE(EqualsAsciiNoCase("[", "{"));                // 0x5B and 0x7B differ by the case bit
}

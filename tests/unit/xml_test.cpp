// Unit tests for http/xml: the safe flat parser (XXE, entity bombs, shape rules) and the writer.
#include "orderpay/http/xml.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace orderpay::http {
namespace {

XmlFields ParseOk(std::string_view body) {
    const FlatXmlResult r = ParseFlatXml(body);
    EXPECT_TRUE(r.fields) << "error: " << r.error << " body: " << body;
    EXPECT_TRUE(r.error.empty());
    return r.fields.value_or(XmlFields{});
}

std::string ParseErr(std::string_view body, std::size_t max_bytes = 64 * 1024) {
    const FlatXmlResult r = ParseFlatXml(body, max_bytes);
    EXPECT_FALSE(r.fields) << body;
    EXPECT_FALSE(r.error.empty()) << body;
    return r.error;
}

// IsXmlText reads plain ASCII eight bytes at a time: a byte it must refuse (or read as UTF-8) is
// found at every offset of a long value, first and last included, and tab and newline pass.
TEST(XmlTest, XmlTextAtEveryOffset) {
    const std::string plain(21, 'a');
    EXPECT_TRUE(IsXmlText(plain, false));
    for (std::size_t at = 0; at < plain.size(); ++at) {
        for (char bad : {'\x00', '\x01', '\x08', '\x1f', '\x80', '\xff'}) {
            std::string v = plain;
            v[at] = bad;
            EXPECT_FALSE(IsXmlText(v, false))
                << "byte " << int(static_cast<unsigned char>(bad)) << " at " << at;
        }
        std::string v = plain;
        v[at] = '\r';
        EXPECT_FALSE(IsXmlText(v, false)) << "CR at " << at;
        EXPECT_TRUE(IsXmlText(v, true)) << "CR at " << at;
        for (char ok : {'\t', '\n', ' ', '\x7f'}) {
            v[at] = ok;
            EXPECT_TRUE(IsXmlText(v, false)) << "byte " << int(ok) << " at " << at;
        }
        if (at + 3 <= plain.size()) {
            v = plain;
            v.replace(at, 3, "\xe4\xb8\xad");  // a CJK character, valid UTF-8
            EXPECT_TRUE(IsXmlText(v, false)) << at;
            v[at + 2] = 'a';  // its last byte missing
            EXPECT_FALSE(IsXmlText(v, false)) << at;
        }
    }
}

TEST(XmlTest, DocSampleWithIndentationCdataAndBareNumbers) {
    const auto f = ParseOk(R"(<xml>
  <appid><![CDATA[wx2421b1c4370ec43b]]></appid>
  <attach><![CDATA[支付测试]]></attach>
  <total_fee>1</total_fee>
  <coupon_fee><![CDATA[10]]></coupon_fee>
</xml>
)");
    const XmlFields expected = {
        {"appid", "wx2421b1c4370ec43b"}, {"attach", "支付测试"}, {"total_fee", "1"}, {"coupon_fee", "10"}};
    EXPECT_EQ(f, expected);
}

TEST(XmlTest, ValuesAreExactNotTrimmed) {
    const auto f = ParseOk("<xml><a>  x  </a><b> </b><c>\n</c><d><![CDATA[ y ]]></d><e>\ttab</e></xml>");
    EXPECT_EQ(f.at("a"), "  x  ");
    EXPECT_EQ(f.at("b"), " ");
    EXPECT_EQ(f.at("c"), "\n");
    EXPECT_EQ(f.at("d"), " y ");
    EXPECT_EQ(f.at("e"), "\ttab");
}

TEST(XmlTest, TextAndCdataConcatenated) {
    EXPECT_EQ(ParseOk("<xml><a>x<![CDATA[y]]>z<![CDATA[]]></a></xml>").at("a"), "xyz");
    EXPECT_EQ(ParseOk("<xml><a><![CDATA[a]]]]><![CDATA[>b]]></a></xml>").at("a"), "a]]>b");
}

TEST(XmlTest, PredefinedEntitiesAndCharRefs) {
    EXPECT_EQ(ParseOk("<xml><a>a&amp;b&lt;&gt;&quot;&apos;&#x41;&#66;</a></xml>").at("a"), "a&b<>\"'AB");
    EXPECT_EQ(ParseOk("<xml><a><![CDATA[&amp;]]></a></xml>").at("a"), "&amp;");
}

TEST(XmlTest, EmptyElementsAndEmptyRoot) {
    const auto f = ParseOk("<xml><a/><b></b><c><![CDATA[]]></c></xml>");
    EXPECT_EQ(f.at("a"), "");
    EXPECT_EQ(f.at("b"), "");
    EXPECT_EQ(f.at("c"), "");
    EXPECT_TRUE(ParseOk("<xml/>").empty());
    EXPECT_TRUE(ParseOk("<?xml version=\"1.0\" encoding=\"UTF-8\"?><xml></xml>").empty());
}

// The bytes are always read as UTF-8; a document claiming another encoding is refused rather than
// read as something it says it is not (libxml2, told to use UTF-8, ignored the claim).
TEST(XmlTest, DeclaredEncodingOtherThanUtf8Refused) {
    EXPECT_EQ(ParseErr("<?xml version=\"1.0\" encoding=\"GBK\"?><xml><a>测试</a></xml>"), "malformed");
    EXPECT_EQ(ParseOk("<?xml version=\"1.0\" encoding=\"utf-8\"?><xml><a>测试</a></xml>").at("a"), "测试");
}

TEST(XmlTest, XxeRejected) {
    EXPECT_EQ(ParseErr(R"(<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>)"
                       R"(<xml><a>&x;</a></xml>)"),
              "doctype");
    EXPECT_EQ(ParseErr(R"(<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><a>1</a></xml>)"),
              "doctype");
    EXPECT_EQ(ParseErr(R"(<!doctype xml [<!entity x "y">]><xml><a>&x;</a></xml>)"), "doctype");
    EXPECT_EQ(ParseErr(R"(<!DocType xml><xml/>)"), "doctype");
}

TEST(XmlTest, BillionLaughsRejected) {
    const char* bomb = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><a>&lol9;</a></xml>)";
    EXPECT_EQ(ParseErr(bomb), "doctype");
}

TEST(XmlTest, EntityTextAnywhereIsRejected) {
    // The textual check is deliberately blunt: even inside CDATA, "<!ENTITY" never appears in
    // a genuine WeChat message.
    EXPECT_EQ(ParseErr("<xml><a><![CDATA[<!ENTITY x>]]></a></xml>"), "doctype");
}

TEST(XmlTest, UndeclaredEntityIsMalformed) {
    EXPECT_EQ(ParseErr("<xml><a>&x;</a></xml>"), "malformed");
}

TEST(XmlTest, Utf16AndNulBytesRejected) {
    // "<!DOCTYPE" in UTF-16 would slip past a byte search; NULs give it away.
    const std::string utf16("\xFF\xFE<\0x\0m\0l\0/\0>\0", 14);
    EXPECT_EQ(ParseErr(utf16), "malformed");
    EXPECT_EQ(ParseErr(std::string("<xml><a>1\0</a></xml>", 21)), "malformed");
}

TEST(XmlTest, InvalidUtf8Rejected) {
    EXPECT_EQ(ParseErr("<xml><a>\xB2\xE2</a></xml>"), "malformed");
}

TEST(XmlTest, NestedElementsRejected) {
    EXPECT_EQ(ParseErr("<xml><a><b>1</b></a></xml>"), "nested");
    EXPECT_EQ(ParseErr("<xml><a>x<b/></a></xml>"), "nested");
}

TEST(XmlTest, AttributesAndNamespacesRejected) {
    EXPECT_EQ(ParseErr(R"(<xml><a id="1">x</a></xml>)"), "attributes");
    EXPECT_EQ(ParseErr(R"(<xml v="1"><a>x</a></xml>)"), "attributes");
    EXPECT_EQ(ParseErr(R"(<xml xmlns="urn:x"><a>x</a></xml>)"), "attributes");
    EXPECT_EQ(ParseErr(R"(<xml xmlns:p="urn:x"><a>x</a></xml>)"), "attributes");
    EXPECT_EQ(ParseErr(R"(<xml><p:a xmlns:p="urn:x">x</p:a></xml>)"), "attributes");
}

TEST(XmlTest, WrongRootRejected) {
    EXPECT_EQ(ParseErr("<root><a>1</a></root>"), "root");
    EXPECT_EQ(ParseErr("<XML><a>1</a></XML>"), "root");
}

TEST(XmlTest, DuplicateKeysRejected) {
    EXPECT_EQ(ParseErr("<xml><a>1</a><b>2</b><a>1</a></xml>"), "duplicate");
}

TEST(XmlTest, FieldCountLimit) {
    std::string body = "<xml>";
    for (int i = 0; i < 200; ++i) body += "<k" + std::to_string(i) + ">v</k" + std::to_string(i) + ">";
    EXPECT_EQ(ParseOk(body + "</xml>").size(), 200u);
    EXPECT_EQ(ParseErr(body + "<k200>v</k200></xml>"), "too many fields");
}

TEST(XmlTest, SizeLimit) {
    const std::string body = "<xml><a>1</a></xml>";
    EXPECT_TRUE(ParseFlatXml(body, body.size()).fields);
    EXPECT_EQ(ParseErr(body, body.size() - 1), "too large");
    // Oversize is decided before any other check, so a large bomb is not even scanned.
    EXPECT_EQ(ParseErr("<!DOCTYPE " + std::string(70 * 1024, 'x')), "too large");
    EXPECT_EQ(ParseErr("<xml><a>" + std::string(64 * 1024, 'x') + "</a></xml>"), "too large");
}

TEST(XmlTest, StrayContentRejected) {
    EXPECT_EQ(ParseErr("<xml>junk<a>1</a></xml>"), "unexpected node");
    EXPECT_EQ(ParseErr("<xml><![CDATA[x]]><a>1</a></xml>"), "unexpected node");
    EXPECT_EQ(ParseErr("<xml><!-- c --><a>1</a></xml>"), "unexpected node");
    EXPECT_EQ(ParseErr("<xml><a>1<!-- c -->2</a></xml>"), "unexpected node");
    EXPECT_EQ(ParseErr("<xml><a>1<?pi x?></a></xml>"), "unexpected node");
}

TEST(XmlTest, MalformedRejected) {
    for (const char* bad : {"", " ", "not xml", "<xml>", "<xml><a>1</xml>", "<xml><a>1</a></xml>trailing",
                            "<xml/><xml/>", "<xml><a>1</b></xml>", "<xml><a><![CDATA[x]]</a></xml>",
                            "<xml><1a/></xml>", "<xml><a>x & y</a></xml>", "<xml><a>x < y</a></xml>"}) {
        EXPECT_EQ(ParseErr(bad), "malformed") << bad;
    }
}

TEST(XmlTest, BuildFlatXmlExactOutput) {
    const XmlFields f = {
        {"return_code", "SUCCESS"}, {"return_msg", "OK"}, {"total_fee", "100"}, {"empty", ""}};
    EXPECT_EQ(BuildFlatXml(f),
              "<xml><empty><![CDATA[]]></empty><return_code><![CDATA[SUCCESS]]></return_code>"
              "<return_msg><![CDATA[OK]]></return_msg><total_fee>100</total_fee></xml>");
    EXPECT_EQ(BuildFlatXml({}), "<xml></xml>");
}

TEST(XmlTest, BuildFlatXmlSplitsCdataTerminator) {
    EXPECT_EQ(BuildFlatXml({{"a", "x]]>y"}}), "<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>");
}

// Found by tests/fuzz/xml_fuzz.cpp: a value holding "<!ENTITY" or "<!DOCTYPE" (an order title,
// say) was written inside one CDATA section, and ParseFlatXml then refused the whole document.
TEST(XmlTest, BuildFlatXmlSplitsDeclarationStart) {
    EXPECT_EQ(BuildFlatXml({{"a", "x<!y"}}), "<xml><a><![CDATA[x<]]><![CDATA[!y]]></a></xml>");
    const XmlFields f = {{"body", "<!DOCTYPE html> tea"}, {"attach", "<!entity x>"}, {"n", "<<!!<"}};
    const FlatXmlResult r = ParseFlatXml(BuildFlatXml(f));
    ASSERT_TRUE(r.fields) << r.error;
    EXPECT_EQ(*r.fields, f);
}

TEST(XmlTest, BuildFlatXmlRoundTrip) {
    const XmlFields f = {
        {"a", "]]>"},
        {"b", "]]]>"},
        {"c", "]]>]]>"},
        {"d", "x]]>y]]>z"},
        {"e", "<&>\"'"},
        {"f", "  spaced  "},
        {"g", "\n\t"},
        {"h", "支付测试"},
        {"i", ""},
        {"j", "0"},
        {"k", "007"},
        {"l", "-1"},
        {"m", "1.5"},
        {"n", "]"},
        {"o", "]]"},
        {"p", "<!-- c -->"},
        {"q", "a]]b>"},
        {"r", "\xF0\x9F\x92\xB0"},
        {"sign_type", "HMAC-SHA256"},
    };
    const std::string xml = BuildFlatXml(f);
    const FlatXmlResult r = ParseFlatXml(xml);
    ASSERT_TRUE(r.fields) << r.error << "\n" << xml;
    EXPECT_EQ(*r.fields, f);
}

TEST(XmlTest, BuildFlatXmlRejectsBadKeys) {
    for (const char* key : {"", "a b", "a-b", "1a", "a>", "<a", "xml:a", "ключ"})
        EXPECT_THROW(BuildFlatXml({{key, "v"}}), std::invalid_argument) << key;
    EXPECT_NO_THROW(BuildFlatXml({{"_a1", "v"}, {"coupon_fee_0", "1"}}));
}

TEST(XmlTest, BuildFlatXmlRejectsValuesThatCannotRoundTrip) {
    for (const std::string& v :
         {std::string("a\rb"), std::string("\x01"), std::string("a\0b", 3), std::string("\xB2\xE2"),
          std::string("\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xEF\xBF\xBE"),
          std::string("\xE6\xB5")})
        EXPECT_THROW(BuildFlatXml({{"a", v}}), std::invalid_argument);
}

}  // namespace
}  // namespace orderpay::http

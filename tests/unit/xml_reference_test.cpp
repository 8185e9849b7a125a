// Unit tests for http::ParseFlatXml against the libxml2 oracle: the same fields, or a documented
// case where our parser is stricter (it may refuse what libxml2 reads, never the reverse).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "orderpay/http/xml.hpp"
#include "xml_libxml2_reference.hpp"

namespace orderpay::http {
namespace {

struct Case {
    const char* name;
    std::string body;
    std::string error;  // our error; empty: both accept with `fields`
    XmlFields fields;   // when accepted
    bool stricter;      // libxml2 accepts what we refuse
    std::string_view root = "xml";
};

Case Accept(const char* name, std::string body, XmlFields fields, std::string_view root = "xml") {
    return {name, std::move(body), "", std::move(fields), false, root};
}

Case Reject(const char* name, std::string body, std::string error, std::string_view root = "xml") {
    return {name, std::move(body), std::move(error), {}, false, root};
}

// libxml2 reads these, we do not (documented in include/orderpay/http/xml.hpp).
Case Stricter(const char* name, std::string body, std::string error) {
    return {name, std::move(body), std::move(error), {}, true};
}

std::string Wrap(std::string_view value) {
    return "<xml><a>" + std::string(value) + "</a></xml>";
}

std::string Fields(int n) {
    std::string body = "<xml>";
    for (int i = 0; i < n; ++i) body += "<k" + std::to_string(i) + ">v</k" + std::to_string(i) + ">";
    return body + "</xml>";
}

XmlFields FieldMap(int n) {
    XmlFields f;
    for (int i = 0; i < n; ++i) f["k" + std::to_string(i)] = "v";
    return f;
}

const char kWeChatNotification[] = R"(<xml>
  <appid><![CDATA[wx2421b1c4370ec43b]]></appid>
  <attach><![CDATA[支付测试]]></attach>
  <bank_type><![CDATA[CFT]]></bank_type>
  <fee_type><![CDATA[CNY]]></fee_type>
  <is_subscribe><![CDATA[N]]></is_subscribe>
  <mch_id><![CDATA[10000100]]></mch_id>
  <nonce_str><![CDATA[5d2b6c2a8db53831f7eda20af46e531c]]></nonce_str>
  <openid><![CDATA[oUpF8uMEb4qRXf22hE3X68TekukE]]></openid>
  <out_trade_no><![CDATA[1409811653]]></out_trade_no>
  <result_code><![CDATA[SUCCESS]]></result_code>
  <return_code><![CDATA[SUCCESS]]></return_code>
  <sign><![CDATA[B552ED6B279343CB493C5DD0D78AB241]]></sign>
  <time_end><![CDATA[20140903131540]]></time_end>
  <total_fee>1</total_fee>
  <coupon_fee><![CDATA[10]]></coupon_fee>
  <coupon_count><![CDATA[1]]></coupon_count>
  <coupon_type><![CDATA[CASH]]></coupon_type>
  <coupon_id><![CDATA[10000]]></coupon_id>
  <trade_type><![CDATA[JSAPI]]></trade_type>
  <transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id>
</xml>
)";

std::vector<Case> Cases() {
    const std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    return {
        // Content.
        Accept("cdata", Wrap("<![CDATA[x<y&z>]]>"), {{"a", "x<y&z>"}}),
        Accept("bare number", "<xml><total_fee>100</total_fee></xml>", {{"total_fee", "100"}}),
        Accept("text and cdata", Wrap("x<![CDATA[y]]>z<![CDATA[]]>"), {{"a", "xyz"}}),
        Accept("split cdata", Wrap("<![CDATA[a]]]]><![CDATA[>b]]>"), {{"a", "a]]>b"}}),
        Accept("brackets and gt", Wrap("] ]] x > y"), {{"a", "] ]] x > y"}}),
        Reject("cdata end in text", Wrap("x]]>y"), "malformed"),
        Reject("unterminated cdata", Wrap("<![CDATA[x]]"), "malformed"),
        Accept("entities", Wrap("&lt;&gt;&amp;&apos;&quot;"), {{"a", "<>&'\""}}),
        Accept("entity in cdata is text", Wrap("<![CDATA[&amp;]]>"), {{"a", "&amp;"}}),
        Reject("undefined entity", Wrap("&nbsp;"), "malformed"),
        Reject("bare ampersand", Wrap("x & y"), "malformed"),
        Reject("entity without semicolon", Wrap("&amp x"), "malformed"),
        Reject("bare less-than", Wrap("x < y"), "malformed"),
        Accept("char refs", Wrap("&#65;&#x42;&#x1F600;&#x4e2d;&#9;&#10;"),
               {{"a", "AB\xF0\x9F\x98\x80中\t\n"}}),
        Accept("char ref leading zeros", Wrap("&#0065;&#x0041;"), {{"a", "AA"}}),
        Accept("char ref CR stays CR", Wrap("x&#13;y&#xD;"), {{"a", "x\ry\r"}}),
        Reject("char ref NUL", Wrap("&#0;"), "malformed"),
        Reject("char ref control", Wrap("&#1;"), "malformed"),
        Reject("char ref surrogate", Wrap("&#xD800;"), "malformed"),
        Reject("char ref FFFE", Wrap("&#xFFFE;"), "malformed"),
        Reject("char ref above unicode", Wrap("&#x110000;"), "malformed"),
        Reject("char ref huge", Wrap("&#99999999999999999999999;"), "malformed"),
        Reject("char ref huge hex", Wrap("&#xFFFFFFFFFFFFFFFF41;"), "malformed"),
        Reject("char ref upper X", Wrap("&#X41;"), "malformed"),
        Reject("char ref empty", Wrap("&#;"), "malformed"),
        Reject("char ref empty hex", Wrap("&#x;"), "malformed"),
        Reject("char ref bad digit", Wrap("&#6a;"), "malformed"),
        Accept("CRLF and CR in text", Wrap("x\r\ny\rz\r\r\nw"), {{"a", "x\ny\nz\n\nw"}}),
        Accept("CRLF and CR in cdata", Wrap("<![CDATA[x\r\ny\rz\r\r\nw]]>"), {{"a", "x\ny\nz\n\nw"}}),
        Accept("CR at value end", Wrap("x\r"), {{"a", "x\n"}}),
        Accept("CR in indentation", "<xml>\r\n<a>1</a>\r\n</xml>\r\n", {{"a", "1"}}),
        Accept("whitespace values", "<xml><a> </a><b>\t</b><c>\n</c></xml>",
               {{"a", " "}, {"b", "\t"}, {"c", "\n"}}),
        // Prolog.
        Accept("BOM", "\xEF\xBB\xBF<xml><a>1</a></xml>", {{"a", "1"}}),
        Accept("BOM and declaration", "\xEF\xBB\xBF" + decl + "<xml><a>1</a></xml>", {{"a", "1"}}),
        Reject("BOM after declaration", decl + "\xEF\xBB\xBF<xml/>", "malformed"),
        Reject("two BOMs", "\xEF\xBB\xBF\xEF\xBB\xBF<xml/>", "malformed"),
        Accept("declaration", decl + "\n<xml><a>1</a></xml>", {{"a", "1"}}),
        Accept("declaration minimal", "<?xml version=\"1.0\"?><xml/>", {}),
        Accept("declaration single quotes lower case",
               "<?xml version='1.0' encoding='utf-8' standalone='yes' ?><xml/>", {}),
        Accept("declaration standalone no", "<?xml version=\"1.0\" standalone=\"no\"?><xml/>", {}),
        Accept("declaration spaced eq", "<?xml  version = \"1.0\"\tencoding\n=\"UTF-8\"?><xml/>", {}),
        Stricter("declaration GBK", "<?xml version=\"1.0\" encoding=\"GBK\"?><xml><a>1</a></xml>",
                 "malformed"),
        Stricter("declaration version 1.1", "<?xml version=\"1.1\"?><xml/>", "malformed"),
        Reject("declaration without version", "<?xml encoding=\"UTF-8\"?><xml/>", "malformed"),
        Reject("declaration out of order",
               "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><xml/>", "malformed"),
        Reject("declaration no space before encoding", "<?xml version=\"1.0\"encoding=\"UTF-8\"?><xml/>",
               "malformed"),
        Reject("declaration unterminated", "<?xml version=\"1.0\"<xml/>", "malformed"),
        Reject("declaration not at start", " " + decl + "<xml/>", "malformed"),
        Reject("declaration after comment", "<!-- c -->" + decl + "<xml/>", "malformed"),
        Reject("declaration after root", "<xml/>" + decl, "malformed"),
        Reject("declaration twice", decl + decl + "<xml/>", "malformed"),
        Reject("PI named XML", "<?XML version=\"1.0\"?><xml/>", "malformed"),
        Accept("comments and PIs around root",
               "<!-- a --><?pi data?>\n<?pi2?><xml><a>1</a></xml><!----><?p x?> \n", {{"a", "1"}}),
        Accept("xml-stylesheet PI", "<?xml-stylesheet href=\"a.xsl\"?><xml/>", {}),
        Reject("comment with double dash", "<!-- a -- b --><xml/>", "malformed"),
        Reject("comment ending in three dashes", "<!-- a ---><xml/>", "malformed"),
        Reject("unterminated comment", "<xml/><!-- a", "malformed"),
        Reject("PI without target", "<? x?><xml/>", "malformed"),
        Reject("unterminated PI", "<xml/><?pi x", "malformed"),
        Reject("comment in root", "<xml><!-- c --><a>1</a></xml>", "unexpected node"),
        Reject("PI in root", "<xml><?pi x?><a>1</a></xml>", "unexpected node"),
        Reject("comment in child", Wrap("1<!-- c -->2"), "unexpected node"),
        Reject("PI in child", Wrap("1<?pi x?>"), "unexpected node"),
        Reject("text in root", "<xml>junk<a>1</a></xml>", "unexpected node"),
        Reject("cdata in root", "<xml><![CDATA[x]]><a>1</a></xml>", "unexpected node"),
        Stricter("space char ref in root", "<xml>&#32;<a>1</a></xml>", "unexpected node"),
        // Shape.
        Accept("empty root", "<xml/>", {}),
        Accept("empty root spaced", "<xml />", {}),
        Accept("empty root pair", "<xml></xml>", {}),
        Accept("empty children", "<xml><a/><b /><c></c><d><![CDATA[]]></d></xml>",
               {{"a", ""}, {"b", ""}, {"c", ""}, {"d", ""}}),
        Accept("whitespace in tags", "<xml ><a\n>1</a\t><b\r\n/></xml \n>", {{"a", "1"}, {"b", ""}}),
        Accept("name characters", "<xml><_a.b-c9>1</_a.b-c9></xml>", {{"_a.b-c9", "1"}}),
        Reject("space before name", "< xml/>", "malformed"),
        Reject("space in end tag", Wrap("1</ a>"), "malformed"),
        Reject("slash space", "<xml><a/ ></xml>", "malformed"),
        Reject("digit name", "<xml><1a/></xml>", "malformed"),
        Reject("dash name", "<xml><-a/></xml>", "malformed"),
        Stricter("non-ASCII name", "<xml><ключ>1</ключ></xml>", "malformed"),
        Reject("attribute", "<xml><a id=\"1\">x</a></xml>", "attributes"),
        Reject("attribute on empty child", "<xml><a id='1'/></xml>", "attributes"),
        Reject("root attribute", "<xml v=\"1\"><a>x</a></xml>", "attributes"),
        Reject("root default namespace", "<xml xmlns=\"urn:x\"><a>x</a></xml>", "attributes"),
        Reject("root namespace prefix", "<xml xmlns:p=\"urn:x\"><a>x</a></xml>", "attributes"),
        Reject("child namespace", "<xml><p:a xmlns:p=\"urn:x\">x</p:a></xml>", "attributes"),
        Stricter("child undeclared prefix", "<xml><p:a>x</p:a></xml>", "attributes"),
        Reject("nested", "<xml><a><b>1</b></a></xml>", "nested"),
        Reject("nested empty", Wrap("x<b/>"), "nested"),
        Reject("mismatched", "<xml><a>1</b></xml>", "malformed"),
        Reject("mismatched root end", "<xml><a>1</a></xm>", "malformed"),
        Reject("unclosed child", "<xml><a>1</xml>", "malformed"),
        Reject("unclosed root", "<xml><a>1</a>", "malformed"),
        Reject("unclosed start tag", "<xml><a", "malformed"),
        Reject("end of input in value", "<xml><a>1", "malformed"),
        Reject("trailing text", "<xml><a>1</a></xml>trailing", "malformed"),
        Reject("two roots", "<xml/><xml/>", "malformed"),
        Reject("text before root", "x<xml/>", "malformed"),
        Reject("empty", "", "malformed"),
        Reject("only whitespace", " \n", "malformed"),
        Reject("only a comment", "<!-- c -->", "malformed"),
        Reject("wrong root", "<root><a>1</a></root>", "root"),
        Reject("root case", "<XML><a>1</a></XML>", "root"),
        Reject("root prefix", "<xmlx/>", "root"),
        // Bytes.
        Reject("overlong UTF-8", Wrap("\xC0\xAF"), "malformed"),
        Reject("overlong 3-byte", Wrap("\xE0\x80\xAF"), "malformed"),
        Reject("surrogate UTF-8", Wrap("\xED\xA0\x80"), "malformed"),
        Reject("truncated UTF-8", Wrap("\xE6\xB5"), "malformed"),
        Reject("truncated at end", "<xml/>\xE6", "malformed"),
        Reject("lone continuation", Wrap("\x80"), "malformed"),
        Reject("above U+10FFFF", Wrap("\xF4\x90\x80\x80"), "malformed"),
        Reject("five-byte form", Wrap("\xF8\x88\x80\x80\x80"), "malformed"),
        Reject("U+FFFE", Wrap("\xEF\xBF\xBE"), "malformed"),
        Reject("control character", Wrap("\x01"), "malformed"),
        Reject("control in cdata", Wrap("<![CDATA[\x1F]]>"), "malformed"),
        Reject("NUL", std::string("<xml><a>1\0</a></xml>", 21), "malformed"),
        Accept("four-byte and noncharacter", Wrap("\xF0\x9F\x92\xB0\xEF\xB7\x90"),
               {{"a", "\xF0\x9F\x92\xB0\xEF\xB7\x90"}}),
        // Limits and keys.
        Accept("200 fields", Fields(200), FieldMap(200)),
        Reject("201 fields", Fields(201), "too many fields"),
        Reject("duplicate", "<xml><a>1</a><b>2</b><a>1</a></xml>", "duplicate"),
        Reject("duplicate empty", "<xml><a/><a></a></xml>", "duplicate"),
        Reject("doctype", "<!DOCTYPE xml><xml/>", "doctype"),
        // Real documents.
        Accept("WeChat notification", kWeChatNotification,
               {{"appid", "wx2421b1c4370ec43b"},
                {"attach", "支付测试"},
                {"bank_type", "CFT"},
                {"fee_type", "CNY"},
                {"is_subscribe", "N"},
                {"mch_id", "10000100"},
                {"nonce_str", "5d2b6c2a8db53831f7eda20af46e531c"},
                {"openid", "oUpF8uMEb4qRXf22hE3X68TekukE"},
                {"out_trade_no", "1409811653"},
                {"result_code", "SUCCESS"},
                {"return_code", "SUCCESS"},
                {"sign", "B552ED6B279343CB493C5DD0D78AB241"},
                {"time_end", "20140903131540"},
                {"total_fee", "1"},
                {"coupon_fee", "10"},
                {"coupon_count", "1"},
                {"coupon_type", "CASH"},
                {"coupon_id", "10000"},
                {"trade_type", "JSAPI"},
                {"transaction_id", "1004400740201409030005092168"}}),
        Accept("refund notice root",
               "<root><out_refund_no><![CDATA[rf123]]></out_refund_no><refund_fee>100</refund_fee></root>",
               {{"out_refund_no", "rf123"}, {"refund_fee", "100"}}, "root"),
        Reject("refund notice with xml root", "<xml><refund_fee>100</refund_fee></xml>", "root", "root"),
    };
}

TEST(XmlReferenceTest, SameAsLibxml2OrStricter) {
    for (const Case& c : Cases()) {
        SCOPED_TRACE(c.name);
        const FlatXmlResult ours = ParseFlatXml(c.body, 64 * 1024, c.root);
        const FlatXmlResult ref = reference::ParseFlatXmlLibxml2(c.body, 64 * 1024, c.root);
        EXPECT_EQ(ours.error, c.error);
        EXPECT_EQ(ours.fields.has_value(), c.error.empty());
        if (c.error.empty()) {
            ASSERT_TRUE(ours.fields && ref.fields) << "ref error: " << ref.error;
            EXPECT_EQ(*ours.fields, c.fields);
            EXPECT_EQ(*ref.fields, *ours.fields);
        } else if (c.stricter) {
            EXPECT_TRUE(ref.fields) << "libxml2 refuses it too (" << ref.error << "): not a stricter case";
        } else {
            EXPECT_FALSE(ref.fields) << "libxml2 accepts it";
        }
    }
}

}  // namespace
}  // namespace orderpay::http

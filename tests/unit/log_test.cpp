// Unit tests for the logger's json format: every line parses as one JSON object whatever the
// message holds, carries the request's context, and the text format keeps its shape.
#include "orderpay/core/log.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace orderpay::log {
namespace {

// Runs `fn` with stderr sent to a temporary file; returns what was written.
template <typename F>
std::string CaptureStderr(F&& fn) {
    std::FILE* tmp = std::tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    dup2(saved, 2);
    close(saved);
    std::string out;
    std::rewind(tmp);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
    std::fclose(tmp);
    return out;
}

rapidjson::Document ParseLine(const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    EXPECT_FALSE(d.HasParseError()) << line;
    EXPECT_TRUE(d.IsObject()) << line;
    return d;
}

class LogFormat : public ::testing::Test {
  protected:
    void TearDown() override {
        SetFormat("text");
        EndRequest(0, 0);  // text format: clears the context without a line
    }
};

TEST(JsonEscape, EscapesAndReplaces) {
    EXPECT_EQ(JsonEscape("plain"), "plain");
    EXPECT_EQ(JsonEscape("a\"b\\c"), "a\\\"b\\\\c");
    EXPECT_EQ(JsonEscape(std::string("nl\n\t\x01\x7f", 6)), "nl\\u000a\\u0009\\u0001\\u007f");
    EXPECT_EQ(JsonEscape(std::string("nul\0x", 5)), "nul\\u0000x");
    EXPECT_EQ(JsonEscape("绿茶"), "绿茶");  // UTF-8 kept as is
    // Not UTF-8: a GBK byte pair, a lone continuation, an overlong, a surrogate, a cut sequence.
    EXPECT_EQ(JsonEscape("\xc2\xcc"), "\\ufffd\\ufffd");
    EXPECT_EQ(JsonEscape("\x80"), "\\ufffd");
    EXPECT_EQ(JsonEscape("\xc0\xaf"), "\\ufffd\\ufffd");
    EXPECT_EQ(JsonEscape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");
    EXPECT_EQ(JsonEscape("\xe7\xbb"), "\\ufffd\\ufffd");
}

TEST(TextEscape, OneLineNoTerminalEscapes) {
    EXPECT_EQ(TextEscape("plain 绿茶 \"q\""), "plain 绿茶 \"q\"");
    EXPECT_EQ(TextEscape("a\nb\rc\td"), "a\\x0ab\\x0dc\\x09d");
    EXPECT_EQ(TextEscape("\x1b[2J\x1b[31mred\x7f"), "\\x1b[2J\\x1b[31mred\\x7f");
    EXPECT_EQ(TextEscape(std::string("nul\0x", 5)), "nul\\x00x");
    EXPECT_EQ(TextEscape("back\\x0aslash"), "back\\x5cx0aslash");  // a written \x0a is not a newline
    // C1 controls in UTF-8 (CSI, OSC, ST), bidirectional overrides and isolates, and bytes that
    // are not UTF-8: shown as bytes (review s29-diff M2). Other characters pass.
    EXPECT_EQ(TextEscape("\xc2\x9b"
                         "2J\xc2\x9d"
                         "0;t\xc2\x9c"),
              "\\xc2\\x9b2J\\xc2\\x9d0;t\\xc2\\x9c");
    EXPECT_EQ(TextEscape("a\xe2\x80\xae"
                         "b\xe2\x81\xa6"
                         "c\xe2\x80\x8f\xd8\x9c"),
              "a\\xe2\\x80\\xaeb\\xe2\\x81\\xa6c\\xe2\\x80\\x8f\\xd8\\x9c");
    EXPECT_EQ(TextEscape("\x9b"
                         "2J \xff \xc0\xaf"),
              "\\x9b2J \\xff \\xc0\\xaf");
    EXPECT_EQ(TextEscape("a\xe2\x80\x8b"
                         "b\xe2\x80\xa8"
                         "c\xe2\x80\xa9"
                         "d\xef\xbb\xbf"),
              "a\\xe2\\x80\\x8bb\\xe2\\x80\\xa8c\\xe2\\x80\\xa9d\\xef\\xbb\\xbf");
    EXPECT_EQ(TextEscape("\xc2\xa0\xe2\x80\x94\xe2\x81\xaa\xf0\x9f\x98\x80"),
              "\xc2\xa0\xe2\x80\x94\xe2\x81\xaa\xf0\x9f\x98\x80");
}

TEST_F(LogFormat, RejectsUnknownFormats) {
    EXPECT_FALSE(SetFormat("xml"));
    EXPECT_FALSE(SetFormat(""));
    EXPECT_EQ(CurrentFormat(), Format::kText);
    EXPECT_TRUE(SetFormat("json"));
    EXPECT_EQ(CurrentFormat(), Format::kJson);
}

TEST_F(LogFormat, JsonLinesCarryTheRequestContext) {
    ASSERT_TRUE(SetFormat("json"));
    std::string out = CaptureStderr([] {
        BeginRequest("0123456789abcdef0123456789abcdef", "pay/buy");
        SetOrder("order1");
        SetSlip("slip1");
        SetProvider("wx");
        Warn("hostile \"msg\"\n\xff\xfe with ", 42);
        EndRequest(502, 0.0125);
        Info("between requests");
    });
    std::vector<std::string> lines;
    for (std::size_t b = 0, e; (e = out.find('\n', b)) != std::string::npos; b = e + 1)
        lines.push_back(out.substr(b, e - b));
    ASSERT_EQ(lines.size(), 3u) << out;

    rapidjson::Document d = ParseLine(lines[0]);
    EXPECT_STREQ(d["level"].GetString(), "warn");
    EXPECT_STREQ(d["request_id"].GetString(), "0123456789abcdef0123456789abcdef");
    EXPECT_STREQ(d["route"].GetString(), "pay/buy");
    EXPECT_STREQ(d["order_id"].GetString(), "order1");
    EXPECT_STREQ(d["slip_id"].GetString(), "slip1");
    EXPECT_STREQ(d["provider"].GetString(), "wx");
    EXPECT_EQ(std::string(d["msg"].GetString()), "hostile \"msg\"\n\xef\xbf\xbd\xef\xbf\xbd with 42");
    EXPECT_TRUE(d["pid"].IsInt());
    EXPECT_EQ(std::string(d["time"].GetString()).size(), 24u);  // 2026-12-01T05:40:18.123Z

    rapidjson::Document req = ParseLine(lines[1]);
    EXPECT_STREQ(req["msg"].GetString(), "request");
    EXPECT_EQ(req["status"].GetInt(), 502);
    EXPECT_NEAR(req["duration_ms"].GetDouble(), 12.5, 0.001);
    EXPECT_STREQ(req["order_id"].GetString(), "order1");

    rapidjson::Document idle = ParseLine(lines[2]);  // the context ended with the request
    EXPECT_FALSE(idle.HasMember("request_id"));
    EXPECT_FALSE(idle.HasMember("route"));
}

TEST_F(LogFormat, RefusesRequestIdsThatAreNotPlain) {
    for (const char* bad : {"", "has space", "quote\"", "x\ny", "\xff",
                            "0123456789012345678901234567890123456789012345678901234567890123456789"}) {
        BeginRequest(bad, "healthz");
        EXPECT_EQ(RequestId(), "") << bad;
    }
    BeginRequest("abc-DEF_0.9", "healthz");
    EXPECT_EQ(RequestId(), "abc-DEF_0.9");
}

TEST_F(LogFormat, TextKeepsItsShapeWithTheRequestId) {
    std::string out = CaptureStderr([] {
        BeginRequest("rid42", "pay/check");
        Info("hello");
        EndRequest(200, 0.001);  // no request line in text format
        Info("idle");
    });
    EXPECT_NE(out.find(" info: req=rid42 hello\n"), std::string::npos) << out;
    EXPECT_NE(out.find(" info: idle\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("request"), std::string::npos) << out;
}

}  // namespace
}  // namespace orderpay::log

// app::DeclinedMessage: a declined scan's reply names the provider's code and cashier text, as
// valid UTF-8 cut on a character boundary, and falls back to the code's own message when the
// provider said nothing the till could use.
#include <gtest/gtest.h>

#include <string>

#include "orderpay/app/payflow.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::app {
namespace {

TEST(DeclinedMessageTest, NamesTheProvidersCodeAndText) {
    EXPECT_EQ(DeclinedMessage("AUTHCODEEXPIRE: 二维码已过期，请用户在微信上刷新后再试"),
              "the payment was declined: AUTHCODEEXPIRE: 二维码已过期，请用户在微信上刷新后再试");
}

TEST(DeclinedMessageTest, NothingSaidLeavesTheCodesOwnMessage) {
    EXPECT_EQ(DeclinedMessage(""), "");
    EXPECT_EQ(DeclinedMessage("  "), "");
    EXPECT_EQ(DeclinedMessage("\x01\xff"), "");  // a control and a stray byte: nothing to read
}

TEST(DeclinedMessageTest, LongTextIsCutOnACharacterBoundaryAndMarked) {
    // 3-byte characters: 200 is not a multiple of 3, so a byte cut would split one.
    std::string said = "NOTENOUGH: ";
    for (int i = 0; i < 200; ++i) said += "额";
    const std::string m = DeclinedMessage(said);
    const std::string prefix = "the payment was declined: ";
    ASSERT_EQ(m.rfind(prefix, 0), 0u);
    const std::string rest = m.substr(prefix.size());
    ASSERT_TRUE(rest.ends_with("…"));
    const std::string cut = rest.substr(0, rest.size() - std::string("…").size());
    EXPECT_LE(cut.size(), kDeclineMaxBytes);
    EXPECT_GT(cut.size(), kDeclineMaxBytes - 3);  // as much as fits, not less
    EXPECT_TRUE(http::IsUtf8(m));
    EXPECT_EQ(cut.rfind("NOTENOUGH: 额", 0), 0u);
}

TEST(DeclinedMessageTest, TextThatFitsIsNotMarked) {
    const std::string said(kDeclineMaxBytes, 'x');
    EXPECT_EQ(DeclinedMessage(said), "the payment was declined: " + said);
}

TEST(DeclinedMessageTest, ControlsAndBrokenBytesNeverReachTheReply) {
    const std::string m = DeclinedMessage("40004 ACQ.X: line\r\none\x80\xc3");
    EXPECT_EQ(m, "the payment was declined: 40004 ACQ.X: line  one");
    EXPECT_TRUE(http::IsUtf8(m));
}

}  // namespace
}  // namespace orderpay::app

// Settings read from a config file: the resend delay for unsent slips never undercuts three
// provider calls (app/resend.hpp), whatever the file says.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "orderpay/app/context.hpp"

namespace orderpay {
namespace {

app::Settings FromText(const std::string& text) {
    char path[] = "/tmp/orderpay-settings-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    std::string error;
    std::optional<Config> cfg = Config::Load(path, error);
    unlink(path);
    EXPECT_TRUE(cfg) << error;
    return app::Settings::From(cfg ? *cfg : Config{});
}

TEST(Settings, ResendAfterDefaultsToAMinute) {
    EXPECT_EQ(FromText("").resend_after_ms, 60000);
}

TEST(Settings, ResendAfterTakesALongerValue) {
    EXPECT_EQ(FromText("buy.resend_after_ms = 120000\n").resend_after_ms, 120000);
}

TEST(Settings, ResendAfterNeverUnderThreeProviderCalls) {
    EXPECT_EQ(FromText("buy.resend_after_ms = 1000\n").resend_after_ms, 30000);  // 3 x the default 10 s
    EXPECT_EQ(FromText("http.timeout_ms = 30000\n").resend_after_ms, 90000);
    EXPECT_EQ(FromText("http.timeout_ms = 2000\nbuy.resend_after_ms = 7000\n").resend_after_ms, 7000);
    EXPECT_EQ(FromText("buy.resend_after_ms = -5\n").resend_after_ms, 30000);
}

}  // namespace
}  // namespace orderpay

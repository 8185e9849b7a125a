// Settings read from a config file: the resend delay for unsent slips never undercuts three
// provider calls (app/resend.hpp), whatever the file says; the database timeouts' defaults
// (their refusals: config_check_test.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "orderpay/app/context.hpp"
#include "temp_config.hpp"

namespace orderpay {
namespace {

Config ConfigOf(const std::string& text) {
    return ConfigFromText(text);
}

app::Settings FromText(const std::string& text) {
    return app::Settings::From(ConfigOf(text));
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

TEST(Settings, DbTimeoutsDefaultToTwoAndTenSeconds) {
    EXPECT_EQ(FromText("").db_lock_timeout_ms, 2000);
    EXPECT_EQ(FromText("").db_statement_timeout_ms, 10000);
    EXPECT_EQ(FromText("db.lock_timeout_ms = 0\n").db_lock_timeout_ms, 0);
    EXPECT_EQ(FromText("db.statement_timeout_ms = 3600000\n").db_statement_timeout_ms, 3600000);
}

}  // namespace
}  // namespace orderpay

// Settings read from a config file: the resend delay for unsent slips never undercuts three
// provider calls (app/resend.hpp), whatever the file says; the database timeouts are whole
// numbers of ms in range or refused.
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

std::string SessionSql(const std::string& text, std::string& error) {
    return app::Settings::DbSessionSql(ConfigOf(text), error).value_or("refused");
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
    std::string error;
    EXPECT_EQ(SessionSql("", error), "SET lock_timeout = 2000;SET statement_timeout = 10000;");
    EXPECT_EQ(FromText("").db_session_sql, "SET lock_timeout = 2000;SET statement_timeout = 10000;");
}

TEST(Settings, DbTimeoutZeroLeavesTheServersSetting) {
    std::string error;
    EXPECT_EQ(SessionSql("db.lock_timeout_ms = 0\n", error), "SET statement_timeout = 10000;");
    EXPECT_EQ(SessionSql("db.lock_timeout_ms = 0\ndb.statement_timeout_ms = 0\n", error), "");
    EXPECT_EQ(SessionSql("db.statement_timeout_ms = 3600000\n", error),
              "SET lock_timeout = 2000;SET statement_timeout = 3600000;");
}

TEST(Settings, DbTimeoutsRefuseAnythingButAWholeNumberInRange) {
    for (const char* bad :
         {"2s", "-1", "+5", " 5x", "1e3", "3600001", "99999999999999999999", "0x10", "1.5"}) {
        std::string error;
        EXPECT_EQ(SessionSql(std::string("db.lock_timeout_ms = ") + bad + "\n", error), "refused") << bad;
        EXPECT_NE(error.find("db.lock_timeout_ms must be a whole number from 0 to 3600000"),
                  std::string::npos)
            << error;
        error.clear();
        EXPECT_EQ(SessionSql(std::string("db.statement_timeout_ms = ") + bad + "\n", error), "refused")
            << bad;
        EXPECT_NE(error.find("db.statement_timeout_ms"), std::string::npos) << error;
    }
}

}  // namespace
}  // namespace orderpay

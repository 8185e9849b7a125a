// CheckConfig and UnknownKeysWarning (core/config_check.hpp): every key held to its rule, the
// first problem named by key, and unknown keys named without their values.
#include "orderpay/core/config_check.hpp"

#include <gtest/gtest.h>

#include <string>

#include "temp_config.hpp"

namespace orderpay {
namespace {

Config Of(const std::string& text) {
    return ConfigFromText(text);
}

const std::string kBase = "notify_base_url = https://shop.example\n";

TEST(ConfigCheck, TheDefaultsAndTheExampleValuesPass) {
    EXPECT_EQ(CheckConfig(Of(kBase), ConfigUser::kDaemon), "");
    EXPECT_EQ(
        CheckConfig(Of(kBase + "workers = 256\nbacklog = 65535\nhttp.timeout_ms = 600000\n"
                               "query_min_interval_ms = 0\nhttp.breaker_timeouts = 0\nlog_format = json\n"
                               "wxpay.gateway = http://127.0.0.1:8080\n"),
                    ConfigUser::kDaemon),
        "");
}

TEST(ConfigCheck, AValueAKeyCannotMeanIsNamed) {
    EXPECT_EQ(CheckConfig(Of(kBase + "http.timeout_ms = 100ms\n"), ConfigUser::kDaemon),
              "http.timeout_ms must be a whole number from 1 to 600000, not '100ms'");
    EXPECT_EQ(CheckConfig(Of(kBase + "http.timeout_ms = 0\n"), ConfigUser::kCli),
              "http.timeout_ms must be a whole number from 1 to 600000, not '0'");
    EXPECT_EQ(CheckConfig(Of(kBase + "max_body_bytes = -1\n"), ConfigUser::kDaemon),
              "max_body_bytes must be a whole number from 1 to 67108864, not '-1'");
    EXPECT_NE(CheckConfig(Of(kBase + "backlog = 4294967396\n"), ConfigUser::kDaemon).find("backlog"),
              std::string::npos);
    EXPECT_NE(
        CheckConfig(Of(kBase + "paysim.workers = 4294967297\n"), ConfigUser::kCli).find("paysim.workers"),
        std::string::npos);
    EXPECT_EQ(CheckConfig(Of(kBase + "log_format = JSON\n"), ConfigUser::kDaemon),
              "log_format must be text or json, not 'JSON'");
}

TEST(ConfigCheck, DbTimeoutsRefuseAnythingButAWholeNumberInRange) {
    for (const char* key : {"db.lock_timeout_ms", "db.statement_timeout_ms", "db.migrate_lock_timeout_ms"})
        for (const char* bad :
             {"2s", "-1", "+5", "5x", "1e3", "3600001", "99999999999999999999", "0x10", "1.5"})
            EXPECT_EQ(CheckConfig(Of(kBase + key + " = " + bad + "\n"), ConfigUser::kCli),
                      std::string(key) + " must be a whole number from 0 to 3600000, not '" + bad + "'");
}

TEST(ConfigCheck, MigrateGiveUpIsAtMostADay) {
    EXPECT_EQ(CheckConfig(Of(kBase + "db.migrate_give_up_s = 86400\n"), ConfigUser::kCli), "");
    EXPECT_EQ(CheckConfig(Of(kBase + "db.migrate_give_up_s = 86401\n"), ConfigUser::kCli),
              "db.migrate_give_up_s must be a whole number from 0 to 86400, not '86401'");
    EXPECT_EQ(UnknownKeysWarning(Of(kBase + "db.migrate_lock_timeout_ms = 0\ndb.migrate_give_up_s = 0\n")),
              "");
}

TEST(ConfigCheck, UrlsMustBeHttpWithAHostAndNoSpaceOrControl) {
    for (const char* bad : {"not a url", "ftp://shop.example", "https://", "https:///x",
                            "https://shop example", "http://:80"}) {
        EXPECT_NE(CheckConfig(Of(std::string("notify_base_url = ") + bad + "\n"), ConfigUser::kDaemon), "")
            << bad;
        EXPECT_NE(CheckConfig(Of(kBase + "paypal.gateway = " + bad + "\n"), ConfigUser::kCli), "") << bad;
    }
    // Required by orderpayd only (the URL a buy's provider calls back); checked for the CLI when set.
    EXPECT_NE(CheckConfig(Of(""), ConfigUser::kDaemon), "");
    EXPECT_EQ(CheckConfig(Of(""), ConfigUser::kCli), "");
}

TEST(ConfigCheck, UnknownKeysAreNamedPrintableAndShortValuesNever) {
    EXPECT_EQ(UnknownKeysWarning(Of(kBase + "workers = 2\npaysim.workers = 2\n")), "");
    const std::string w = UnknownKeysWarning(Of(kBase + "Workers = 0\nhttp.timout_ms = S3cret\n"));
    EXPECT_NE(w.find("'Workers'"), std::string::npos) << w;
    EXPECT_NE(w.find("'http.timout_ms'"), std::string::npos) << w;
    EXPECT_EQ(w.find("S3cret"), std::string::npos) << w;
    const std::string odd = UnknownKeysWarning(Of(kBase + "a\x01" + std::string(100, 'k') + " = 1\n"));
    EXPECT_NE(odd.find("'a?kkk"), std::string::npos) << odd;
    EXPECT_LT(odd.size(), 200u) << odd;
}

}  // namespace
}  // namespace orderpay

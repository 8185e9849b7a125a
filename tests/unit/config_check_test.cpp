// CheckConfig and UnknownKeysWarning (core/config_check.hpp): every key held to its rule, the
// first problem named by key, and unknown keys named without their values.
#include "orderpay/core/config_check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "temp_config.hpp"

namespace orderpay {
namespace {

Config Of(const std::string& text) {
    return ConfigFromText(text);
}

// CheckConfig's rule alone, without the "FILE:LINE: " its key's origin puts before it (the
// temporary file's name differs each run): the origin has its own test below.
std::string Check(const Config& cfg, ConfigUser user) {
    const std::string error = CheckConfig(cfg, user);
    if (error.rfind("/tmp/orderpay-config-", 0) != 0) return error;
    return error.substr(error.find(": ") + 2);
}

const std::string kBase = "notify_base_url = https://shop.example\n";

TEST(ConfigCheck, TheDefaultsAndTheExampleValuesPass) {
    EXPECT_EQ(Check(Of(kBase), ConfigUser::kDaemon), "");
    EXPECT_EQ(Check(Of(kBase + "workers = 256\nbacklog = 65535\nhttp.timeout_ms = 600000\n"
                               "query_min_interval_ms = 0\nhttp.breaker_timeouts = 0\nlog_format = json\n"
                               "wxpay.gateway = http://127.0.0.1:8080\n"),
                    ConfigUser::kDaemon),
              "");
}

TEST(ConfigCheck, AValueAKeyCannotMeanIsNamed) {
    EXPECT_EQ(Check(Of(kBase + "http.timeout_ms = 100ms\n"), ConfigUser::kDaemon),
              "http.timeout_ms must be a whole number from 1 to 600000, not '100ms'");
    EXPECT_EQ(Check(Of(kBase + "http.timeout_ms = 0\n"), ConfigUser::kCli),
              "http.timeout_ms must be a whole number from 1 to 600000, not '0'");
    EXPECT_EQ(Check(Of(kBase + "max_body_bytes = -1\n"), ConfigUser::kDaemon),
              "max_body_bytes must be a whole number from 1 to 67108864, not '-1'");
    EXPECT_NE(Check(Of(kBase + "backlog = 4294967396\n"), ConfigUser::kDaemon).find("backlog"),
              std::string::npos);
    EXPECT_NE(Check(Of(kBase + "paysim.workers = 4294967297\n"), ConfigUser::kCli).find("paysim.workers"),
              std::string::npos);
    EXPECT_EQ(Check(Of(kBase + "log_format = JSON\n"), ConfigUser::kDaemon),
              "log_format must be text or json, not 'JSON'");
}

TEST(ConfigCheck, TicketRetentionIsWholeDaysUpToTenYears) {
    for (const char* ok : {"0", "7", "3660"})
        EXPECT_EQ(Check(Of(kBase + "ticket.keep_ended_days = " + ok + "\n"), ConfigUser::kCli), "") << ok;
    EXPECT_EQ(Check(Of(kBase + "ticket.keep_ended_days = 7d\n"), ConfigUser::kCli),
              "ticket.keep_ended_days must be a whole number from 0 to 3660, not '7d'");
    EXPECT_EQ(Check(Of(kBase + "ticket.keep_ended_days = 3661\n"), ConfigUser::kCli),
              "ticket.keep_ended_days must be a whole number from 0 to 3660, not '3661'");
}

TEST(ConfigCheck, DbTimeoutsRefuseAnythingButAWholeNumberInRange) {
    for (const char* key : {"db.lock_timeout_ms", "db.statement_timeout_ms", "db.migrate_lock_timeout_ms"})
        for (const char* bad :
             {"2s", "-1", "+5", "5x", "1e3", "3600001", "99999999999999999999", "0x10", "1.5"})
            EXPECT_EQ(Check(Of(kBase + key + " = " + bad + "\n"), ConfigUser::kCli),
                      std::string(key) + " must be a whole number from 0 to 3600000, not '" + bad + "'");
}

TEST(ConfigCheck, MigrateGiveUpIsAtMostADay) {
    EXPECT_EQ(Check(Of(kBase + "db.migrate_give_up_s = 86400\n"), ConfigUser::kCli), "");
    EXPECT_EQ(Check(Of(kBase + "db.migrate_give_up_s = 86401\n"), ConfigUser::kCli),
              "db.migrate_give_up_s must be a whole number from 0 to 86400, not '86401'");
    EXPECT_EQ(UnknownKeysWarning(Of(kBase + "db.migrate_lock_timeout_ms = 0\ndb.migrate_give_up_s = 0\n")),
              "");
}

TEST(ConfigCheck, UrlsMustBeHttpWithAHostAndNoSpaceOrControl) {
    for (const char* bad : {"not a url", "ftp://shop.example", "https://", "https:///x",
                            "https://shop example", "http://:80"}) {
        EXPECT_NE(Check(Of(std::string("notify_base_url = ") + bad + "\n"), ConfigUser::kDaemon), "") << bad;
        EXPECT_NE(Check(Of(kBase + "paypal.gateway = " + bad + "\n"), ConfigUser::kCli), "") << bad;
    }
    // Required by orderpayd only (the URL a buy's provider calls back); checked for the CLI when set.
    EXPECT_NE(Check(Of(""), ConfigUser::kDaemon), "");
    EXPECT_EQ(Check(Of(""), ConfigUser::kCli), "");
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

TEST(ConfigCheck, EnvironmentVariablesNamingNoKeyAreNamedValuesNever) {
    const char* const quiet[] = {"ORDERPAY_CONFIG=/etc/x.conf",
                                 "ORDERPAY_VAR=/tmp/v",
                                 "ORDERPAY_BIN=/b",
                                 "ORDERPAY_URL=http://x",
                                 "ORDERPAY_API=http://x/api",
                                 "ORDERPAY_PGBIN=/p",
                                 "ORDERPAY_SHARED=/s",
                                 "ORDERPAY_WORKERS=3",
                                 "ORDERPAY_WXPAY_GATEWAY=http://g",
                                 "ORDERPAY_DB_MIGRATE_GIVE_UP_S=0",
                                 "ORDERPAY_PAYSIM_NOTIFY_TIMEOUT_MS=1",
                                 "HOME=/root",
                                 "ORDERPAYX=1",
                                 "PATH=/bin",
                                 nullptr};
    EXPECT_EQ(UnknownEnvWarning(quiet), "");
    EXPECT_EQ(UnknownEnvWarning(nullptr), "");
    const char* const typos[] = {"ORDERPAY_WROKERS=S3cret",         "PATH=/bin",       "ORDERPAY_workers=3",
                                 "ORDERPAY_WXPAY.GATEWAY=http://g", "ORDERPAY_EMPTY=", nullptr};
    EXPECT_EQ(
        UnknownEnvWarning(typos),
        "unknown ORDERPAY_* environment variables, ignored (ORDERPAY_ and the key in upper case, '.' as "
        "'_', see README): 'ORDERPAY_WROKERS', 'ORDERPAY_workers', 'ORDERPAY_WXPAY.GATEWAY', "
        "'ORDERPAY_EMPTY'");
}

// An error names where the value came from: the file and its line, or the environment variable
// that overrides the file (ORDERPAY_WORKERS=300 while the file said 8 read as a file error).
TEST(ConfigCheck, AnErrorNamesTheFileLineOrTheEnvironmentVariable) {
    unsetenv("ORDERPAY_WORKERS");
    unsetenv("ORDERPAY_LOG_FORMAT");
    const Config cfg = Of(kBase + "# a comment\nworkers = 300\nlog_format = yaml\n");
    const std::string file = cfg.path();
    EXPECT_EQ(CheckConfig(cfg, ConfigUser::kCli),
              file + ":3: workers must be a whole number from 1 to 256, not '300'");
    EXPECT_EQ(cfg.Origin("workers"), file + ":3");
    EXPECT_EQ(cfg.Origin("backlog"), "");  // unset: the default, nothing to name
    const Config good = Of(kBase + "workers = 8\nlog_format = yaml\n");
    EXPECT_EQ(CheckConfig(good, ConfigUser::kCli),
              good.path() + ":3: log_format must be text or json, not 'yaml'");
    setenv("ORDERPAY_WORKERS", "300", 1);
    EXPECT_EQ(CheckConfig(good, ConfigUser::kCli),
              "ORDERPAY_WORKERS (environment): workers must be a whole number from 1 to 256, not '300'");
    setenv("ORDERPAY_WORKERS", "", 1);  // empty: the file's value, as Get reads it
    EXPECT_EQ(good.Origin("workers"), good.path() + ":2");
    unsetenv("ORDERPAY_WORKERS");
    setenv("ORDERPAY_NOTIFY_KEEP_DAYS", "3", 1);
    EXPECT_EQ(CheckConfig(Of(kBase), ConfigUser::kCli),
              "ORDERPAY_NOTIFY_KEEP_DAYS (environment): notify.keep_days must be 0 (keep every decided "
              "notification) or at least 7, not 3");
    unsetenv("ORDERPAY_NOTIFY_KEEP_DAYS");
    const Config url = Of("notify_base_url = ftp://x\n");
    EXPECT_EQ(CheckConfig(url, ConfigUser::kDaemon),
              url.path() +
                  ":1: notify_base_url must be an http:// or https:// URL with a host, without spaces or "
                  "control characters");
}

// README says deploy/orderpay.conf.example documents every key: each key the check knows is set
// (or shown commented out) there. Run from the checkout's top, as `make test` runs it.
TEST(ConfigCheck, TheExampleConfigDocumentsEveryKnownKey) {
    std::ifstream in("deploy/orderpay.conf.example");
    ASSERT_TRUE(in) << "run from the checkout's top directory";
    std::set<std::string> documented;
    std::string line;
    while (std::getline(in, line)) {
        std::size_t b = line.find_first_not_of("# ");
        std::size_t eq = line.find(" =");
        if (b == std::string::npos || eq == std::string::npos || eq < b) continue;
        const std::string key = line.substr(b, eq - b);
        // A comment's prose ("Format: `key = value` lines") is no key.
        if (std::all_of(key.begin(), key.end(),
                        [](unsigned char c) { return std::islower(c) || c == '.' || c == '_'; }))
            documented.insert(key);
    }
    const std::vector<std::string> known = KnownConfigKeys();
    EXPECT_GT(known.size(), 40u);
    for (const std::string& key : known)
        EXPECT_TRUE(documented.count(key)) << key << " is not in the example";
    // ...and names nothing else (a key the example sets would otherwise be warned about).
    for (const std::string& key : documented)
        EXPECT_NE(std::find(known.begin(), known.end(), key), known.end()) << key;
}

}  // namespace
}  // namespace orderpay

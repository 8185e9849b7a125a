// Unit tests for the operator CLI's argument rules: a flag a command does not take, a value
// flag without its value, a switch with one and a repeated flag are usage errors before the
// command runs (a mistyped `refund ORDER --amout 1` used to refund the whole order).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "orderpay/cli/cli.hpp"

namespace orderpay::cli {
namespace {

Args P(std::vector<std::string> words) {
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    return Parse(static_cast<int>(argv.size()), argv.data(), 0);
}

TEST(CliArgs, ValuesSwitchesAndPositionals) {
    Args a = P({"refund", "ORDER", "--amount", "1.00", "--reason=late", "--json"});
    EXPECT_EQ(a.pos, (std::vector<std::string>{"refund", "ORDER"}));
    EXPECT_EQ(a.Flag("amount"), "1.00");
    EXPECT_EQ(a.Flag("reason"), "late");
    EXPECT_TRUE(a.json);
    EXPECT_EQ(a.Flag("key"), std::nullopt);
    EXPECT_NO_THROW(CheckFlags("refund", a));
}

TEST(CliArgs, AValueFlagWithoutItsValueIsRefused) {
    for (const auto& words : std::vector<std::vector<std::string>>{
             {"refund", "ORDER", "--reason"}, {"refund", "ORDER", "--reason", "--amount", "1"}}) {
        Args a = P(words);
        EXPECT_THROW(CheckFlags("refund", a), UsageError);
        EXPECT_THROW(a.Flag("reason"), UsageError);  // never read as "true"
        EXPECT_THROW(a.Need("reason"), UsageError);
    }
}

TEST(CliArgs, UnknownFlagsAreRefusedPerCommand) {
    EXPECT_THROW(CheckFlags("refund", P({"refund", "ORDER", "--amout", "1", "--reason", "r"})), UsageError);
    EXPECT_THROW(CheckFlags("order", P({"order", "list", "--limt", "5"})), UsageError);
    EXPECT_THROW(CheckFlags("expire", P({"expire", "--site", "demo"})), UsageError);
    // refund list takes --site and --limit; refunding an order takes neither.
    EXPECT_NO_THROW(CheckFlags("refund", P({"refund", "list", "--site", "demo", "--limit", "5"})));
    EXPECT_THROW(CheckFlags("refund", P({"refund", "ORDER", "--site", "demo", "--reason", "r"})), UsageError);
    // A verb the table does not know takes no flags at all.
    EXPECT_THROW(CheckFlags("site", P({"site", "drop", "--name", "x"})), UsageError);
    EXPECT_NO_THROW(CheckFlags("site", P({"site", "list"})));
}

// A script that asked for JSON must get JSON or an error, never text it would misread.
TEST(CliArgs, JsonOnlyWhereTheCommandPrintsIt) {
    for (const auto& words :
         std::vector<std::vector<std::string>>{{"reconcile", "--json"},
                                               {"--json", "expire"},
                                               {"audit", "--json"},
                                               {"order", "show", "X", "--json"},
                                               {"refund", "ORDER", "--reason", "r", "--json"},
                                               {"site", "list", "--json"},
                                               {"inbox", "list", "--json"}})
        EXPECT_NO_THROW(CheckFlags(words[0] == "--json" ? words[1] : words[0], P(words))) << words[0];
    for (const auto& words :
         std::vector<std::vector<std::string>>{{"ticket", "issue", "--account", "a", "--json"},
                                               {"inbox", "replay", "--json"},
                                               {"migrate", "--json"},
                                               {"product", "add", "X", "--json"}})
        EXPECT_THROW(CheckFlags(words[0], P(words)), UsageError) << words[0] << ' ' << words[1];
}

TEST(CliArgs, SwitchesTakeNoValue) {
    Args ok = P({"audit", "--list"});
    EXPECT_NO_THROW(CheckFlags("audit", ok));
    EXPECT_TRUE(ok.Has("list"));
    EXPECT_THROW(CheckFlags("audit", P({"audit", "--list=yes"})), UsageError);
    EXPECT_THROW(CheckFlags("audit", P({"audit", "--list", "extra"})), UsageError);
    EXPECT_FALSE(P({"audit"}).Has("list"));
}

TEST(CliArgs, AFlagGivenTwiceIsRefused) {
    EXPECT_THROW(P({"refund", "ORDER", "--amount", "1", "--amount", "25"}), UsageError);
    EXPECT_THROW(P({"refund", "ORDER", "--amount=1", "--amount"}), UsageError);
}

TEST(CliArgs, LimitIsAWholeNumberInRange) {
    EXPECT_EQ(P({"expire"}).Limit(500), 500);
    EXPECT_EQ(P({"expire", "--limit", "1"}).Limit(500), 1);
    EXPECT_EQ(P({"expire", "--limit", "100000"}).Limit(500), 100000);
    for (const char* bad : {"0", "-1", "100001", "4294967297", "99999999999999999999", "5abc", "1e3", ""})
        EXPECT_THROW(P({"expire", "--limit", bad}).Limit(500), UsageError) << bad;
}

TEST(CliArgs, DurationsHaveAUnitAndAreAtMostTenYears) {
    EXPECT_EQ(DurationSeconds("60s", "f"), 60);
    EXPECT_EQ(DurationSeconds("5m", "f"), 300);
    EXPECT_EQ(DurationSeconds("2h", "f"), 7200);
    EXPECT_EQ(DurationSeconds("7d", "f"), 7 * 86400);
    EXPECT_EQ(DurationSeconds("0", "f"), 0);
    EXPECT_EQ(DurationSeconds("3660d", "f"), 3660LL * 86400);
    for (const char* bad : {"", "7", "-1d", "5x", "d", "1.5d", "3661d", "99999999999999999999d", "7d "})
        EXPECT_THROW(DurationSeconds(bad, "ended-older-than"), UsageError) << bad;
    try {
        DurationSeconds("7", "ended-older-than");
    } catch (const UsageError& e) {
        EXPECT_STREQ(
            e.what(),
            "--ended-older-than: a duration like 60s, 5m, 2h or 7d (at most ten years): give its unit");
    }
}

TEST(CliArgs, TicketPruneTakesItsAgeAndALimitAndNoJson) {
    EXPECT_NO_THROW(CheckFlags("ticket", P({"ticket", "prune", "--ended-older-than", "7d", "--limit", "5"})));
    EXPECT_THROW(CheckFlags("ticket", P({"ticket", "prune", "--older-than", "7d"})), UsageError);
    EXPECT_THROW(CheckFlags("ticket", P({"ticket", "prune", "--json"})), UsageError);
    // issue and revoke do not take the prune's flags.
    EXPECT_THROW(CheckFlags("ticket", P({"ticket", "revoke", "T", "--ended-older-than", "7d"})), UsageError);
}

TEST(CliArgs, MerchantAddLeavesItsFlagsToTheProvider) {
    Args a = P({"merchant", "add", "m1", "--provider", "wx", "--app-id", "A", "--mch-idd", "M"});
    EXPECT_NO_THROW(CheckFlags("merchant", a));  // the provider's flags are not known here
    a.Flag("provider");
    a.Flag("app-id");
    a.Flag("mch-id");  // what a provider reads
    EXPECT_EQ(a.Unread(), (std::vector<std::string>{"mch-idd"}));
    EXPECT_THROW(RefuseUnread(a, "merchant add"), UsageError);
    a.Flag("mch-idd");
    EXPECT_NO_THROW(RefuseUnread(a, "merchant add"));
    // Still no value-less value flag for the command's own --provider.
    EXPECT_THROW(CheckFlags("merchant", P({"merchant", "add", "m1", "--provider"})), UsageError);
}

// A body is read as bytes, exactly: WeChat v3 and PayPal sign a last newline too. A file that
// cannot be read is a Refusal (one line, exit 1), not a UsageError (usage after it, exit 2).
TEST(CliArgs, AFileIsReadExactlyAndOneThatCannotBeIsARefusal) {
    char dir[] = "/tmp/cli_args_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string body = std::string(dir) + "/body", empty = std::string(dir) + "/empty";
    const std::string bytes("{\"a\":1}\r\n\n\0x", 12);
    for (const auto& [path, text] : {std::pair{body, bytes}, std::pair{empty, std::string("\n")}}) {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
    }
    EXPECT_EQ(ReadInput(body), bytes);
    EXPECT_EQ(ReadSecret(body), bytes);  // a secret's trailing newlines go; this one ends in "x"
    EXPECT_THROW(ReadInput(std::string(dir) + "/nosuch"), Refusal);
    EXPECT_THROW(ReadInput(dir), Refusal);  // a directory opens, and fails to read
    EXPECT_THROW(ReadSecret(empty), Refusal);
    try {
        ReadInput(std::string(dir) + "/nosuch");
    } catch (const Refusal& e) {
        EXPECT_EQ(std::string(e.what()),
                  "cannot read " + std::string(dir) + "/nosuch: No such file or directory");
    }
    std::remove(body.c_str());
    std::remove(empty.c_str());
    rmdir(dir);
}

}  // namespace
}  // namespace orderpay::cli

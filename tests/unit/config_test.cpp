// Config::Load: the key = value file itself (values are held to their rules in config_check_test).
#include "orderpay/core/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "orderpay/core/config_check.hpp"

namespace orderpay {
namespace {

// Loads `text` from a temporary file; the error (or "") through `error`, the path through `path`.
std::optional<Config> Load(const std::string& text, std::string& error, std::string& path) {
    char name[] = "/tmp/orderpay-config-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    path = name;
    error.clear();
    std::optional<Config> cfg = Config::Load(path, error);
    unlink(name);
    return cfg;
}

TEST(ConfigLoad, AKeySetTwiceIsNamedWithBothLinesAndTheLastWins) {
    std::string error, path;
    std::optional<Config> cfg =
        Load("# workers\nworkers = 4\nlisten = /tmp/x.sock\n\nworkers = 5\n", error, path);
    ASSERT_TRUE(cfg) << error;
    EXPECT_EQ(cfg->Get("workers"), "5");
    ASSERT_EQ(cfg->Repeats().size(), 1u);
    EXPECT_EQ(cfg->Repeats()[0], path + ":5: workers is set twice, on lines 2 and 5: line 5's value is used");
    EXPECT_NE(UnknownKeysWarning(*cfg).find("workers is set twice, on lines 2 and 5"), std::string::npos);
    // The same value twice is still two lines where one is meant.
    cfg = Load("log_file =\nlog_file =\n", error, path);
    ASSERT_TRUE(cfg) << error;
    EXPECT_EQ(cfg->Repeats(),
              std::vector<std::string>{
                  path + ":2: log_file is set twice, on lines 1 and 2: line 2's value is used"});
    // The key as the file spells it, around its spaces: " workers" and "workers " are one key;
    // a third line is named against the second.
    cfg = Load("workers=4\n  workers   = 4\nworkers = 6\n", error, path);
    ASSERT_TRUE(cfg) << error;
    EXPECT_EQ(cfg->Get("workers"), "6");
    ASSERT_EQ(cfg->Repeats().size(), 2u);
    EXPECT_EQ(cfg->Repeats()[1], path + ":3: workers is set twice, on lines 2 and 3: line 3's value is used");
}

TEST(ConfigLoad, KeysSetOnceLoad) {
    std::string error, path;
    std::optional<Config> cfg = Load("workers = 4\n#workers = 5\nWorkers = 6\nlisten =\n", error, path);
    ASSERT_TRUE(cfg) << error;
    EXPECT_EQ(cfg->Get("workers"), "4");
    EXPECT_EQ(cfg->Get("Workers"), "6");  // another key: config_check warns about it as unknown
}

}  // namespace
}  // namespace orderpay

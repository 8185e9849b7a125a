// A Config read from text through a temporary file, as programs read theirs (unit tests only).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "orderpay/core/config.hpp"

namespace orderpay {

inline Config ConfigFromText(const std::string& text) {
    char path[] = "/tmp/orderpay-config-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    std::string error;
    std::optional<Config> cfg = Config::Load(path, error);
    unlink(path);
    EXPECT_TRUE(cfg) << error;
    return cfg ? *cfg : Config{};
}

}  // namespace orderpay

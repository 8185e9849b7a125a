// The master's respawn wait (fcgi::RespawnBackoff): a worker that could not start backs off,
// doubling to 30 s; one that was serving when it died is replaced at once, whatever came before.
#include <gtest/gtest.h>

#include <vector>

#include "orderpay/fcgi/pool.hpp"

namespace orderpay::fcgi {
namespace {

using std::chrono::milliseconds;

TEST(RespawnBackoffTest, AWorkerThatCannotStartBacksOffDoublingUpTo30s) {
    milliseconds b(0);
    std::vector<long> seen;
    for (int i = 0; i < 10; ++i) {
        b = RespawnBackoff(b, false);
        seen.push_back(static_cast<long>(b.count()));
    }
    EXPECT_EQ(seen, (std::vector<long>{250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
}

TEST(RespawnBackoffTest, AWorkerThatWasServingIsReplacedAtOnceEvenAfterABackoff) {
    EXPECT_EQ(RespawnBackoff(milliseconds(0), true), milliseconds(0));
    EXPECT_EQ(RespawnBackoff(milliseconds(30000), true), milliseconds(0));
    // A run of serving workers killed one after another (requests crashing them) never waits.
    milliseconds b(0);
    for (int i = 0; i < 20; ++i) b = RespawnBackoff(b, true);
    EXPECT_EQ(b, milliseconds(0));
    // And a start failure after that begins again at 250 ms.
    EXPECT_EQ(RespawnBackoff(b, false), milliseconds(250));
}

}  // namespace
}  // namespace orderpay::fcgi

// The master's respawn pacing (fcgi::RespawnPacer): a worker that could not start backs off,
// doubling to 30 s; one that was serving is replaced at once out of a budget of max(4, workers)
// a second, and never waits more than one share of that rate.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "orderpay/fcgi/pool.hpp"

namespace orderpay::fcgi {
namespace {

using std::chrono::milliseconds;
using Clock = RespawnPacer::Clock;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

TEST(RespawnPacerTest, AWorkerThatCannotStartBacksOffDoublingUpTo30s) {
    RespawnPacer p(8);
    std::vector<long> seen;
    for (int i = 0; i < 10; ++i) seen.push_back(static_cast<long>(p.OnDeath(kT0, false).count()));
    EXPECT_EQ(seen, (std::vector<long>{250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
    // A worker that was serving resets it: the next start failure begins at 250 ms again.
    EXPECT_EQ(p.OnDeath(kT0, true), milliseconds(0));
    EXPECT_EQ(p.OnDeath(kT0, false), milliseconds(250));
}

TEST(RespawnPacerTest, ServingWorkersAreReplacedAtOnceWithinTheBudget) {
    RespawnPacer p(1);  // a budget of 4 a second
    for (int i = 0; i < 4; ++i) EXPECT_EQ(p.OnDeath(kT0, true), milliseconds(0)) << i;
    // The fifth in the same instant waits for one share of the rate, no more.
    const milliseconds w = p.OnDeath(kT0, true);
    EXPECT_GT(w, milliseconds(0));
    EXPECT_LE(w, milliseconds(251));
    // After a quiet second the whole budget is back.
    const auto later = kT0 + w + std::chrono::seconds(1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(p.OnDeath(later, true), milliseconds(0)) << i;
}

TEST(RespawnPacerTest, AStreamOfCrashesCostsAtMostTheRateAndNeverALongWait) {
    RespawnPacer p(8);  // 8 a second
    auto t = kT0;
    milliseconds longest(0);
    // 100 crashes a second for 10 s: each worker dies as soon as it is replaced.
    for (int i = 0; i < 1000; ++i) {
        const milliseconds w = p.OnDeath(t, true);
        longest = std::max(longest, w);
        t += milliseconds(10) + w;
    }
    const double seconds = std::chrono::duration<double>(t - kT0).count();
    // 1000 replacements took at least what the budget and the rate allow.
    EXPECT_LE(1000, static_cast<int>(8 + 8 * seconds) + 1) << seconds;
    EXPECT_LE(longest, milliseconds(126));
}

}  // namespace
}  // namespace orderpay::fcgi

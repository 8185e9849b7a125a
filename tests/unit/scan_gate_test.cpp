// The scan gate (app/scan_gate.hpp): at most `limit` places, a place freed by its holder or by
// its holder's death, never taken twice, and the limit read from scan.max_waiting or workers.
#include "orderpay/app/scan_gate.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "temp_config.hpp"

namespace orderpay::app::scan_gate {
namespace {

const auto kAllAlive = [](std::int32_t) { return true; };

TEST(ScanGateTest, GivesAtMostLimitPlaces) {
    Table t;
    EXPECT_EQ(Take(t, 2, 101, kAllAlive), 0);
    EXPECT_EQ(Take(t, 2, 102, kAllAlive), 1);
    EXPECT_EQ(Take(t, 2, 103, kAllAlive), std::nullopt);
    Give(t, 0, 101);
    EXPECT_EQ(Take(t, 2, 103, kAllAlive), 0);
    EXPECT_EQ(Take(t, 0, 104, kAllAlive), std::nullopt);
}

TEST(ScanGateTest, APlaceOfADeadHolderIsFreeAgain) {
    Table t;
    ASSERT_EQ(Take(t, 1, 101, kAllAlive), 0);
    EXPECT_EQ(Take(t, 1, 102, kAllAlive), std::nullopt);
    EXPECT_EQ(Take(t, 1, 102, [](std::int32_t pid) { return pid != 101; }), 0);
    EXPECT_EQ(t.pid[0].load(), 102);
}

TEST(ScanGateTest, GiveFreesOnlyTheHoldersOwnPlace) {
    Table t;
    ASSERT_EQ(Take(t, 1, 101, kAllAlive), 0);
    Give(t, 0, 999);  // a worker that lost its place to a taker who thought it dead
    EXPECT_EQ(t.pid[0].load(), 101);
    Give(t, -1, 101);
    Give(t, kMaxPlaces, 101);
    Give(t, 0, 101);
    EXPECT_EQ(t.pid[0].load(), 0);
}

TEST(ScanGateTest, ConcurrentTakersNeverShareAPlace) {
    Table t;
    constexpr int kThreads = 16;
    std::vector<std::optional<int>> got(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&, i] { got[i] = Take(t, 5, 1000 + i, kAllAlive); });
    for (auto& th : threads) th.join();
    std::set<int> places;
    int taken = 0;
    for (const auto& g : got)
        if (g) {
            ++taken;
            places.insert(*g);
        }
    EXPECT_EQ(taken, 5);
    EXPECT_EQ(places.size(), 5u);
}

TEST(ScanGateTest, LimitIsTheKeyOrHalfTheWorkers) {
    EXPECT_EQ(LimitFrom(ConfigFromText("workers = 8\n")), 4);
    EXPECT_EQ(LimitFrom(ConfigFromText("workers = 1\n")), 1);
    EXPECT_EQ(LimitFrom(ConfigFromText("workers = 3\n")), 1);
    EXPECT_EQ(LimitFrom(ConfigFromText("workers = 4\nscan.max_waiting = 3\n")), 3);
    EXPECT_EQ(LimitFrom(ConfigFromText("workers = 4\nscan.max_waiting = 0\n")), 2);
    EXPECT_EQ(LimitFrom(ConfigFromText("")), 4);
}

TEST(ScanGateTest, APassOfAKilledProcessIsReclaimedThroughTheSharedTable) {
    InitShared();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::optional<Pass> p = Pass::TryTake(1);
        _exit(p ? 0 : 1);  // exits holding it: as a worker killed mid-poll
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::optional<Pass> mine = Pass::TryTake(1);
    EXPECT_TRUE(mine.has_value());
    EXPECT_FALSE(Pass::TryTake(1).has_value());  // this process holds the only place now
    mine.reset();
    EXPECT_TRUE(Pass::TryTake(1).has_value());
}

}  // namespace
}  // namespace orderpay::app::scan_gate

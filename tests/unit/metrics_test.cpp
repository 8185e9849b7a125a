// Unit tests for the shared metrics region: sums over forked writers, bounded labels for hostile
// paths and statuses, and a well-formed Prometheus exposition (cumulative buckets, +Inf = count).
#include "orderpay/core/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

namespace orderpay::metrics {
namespace {

// "name{labels}" -> value for every sample line of the exposition.
std::map<std::string, double> Samples() {
    std::map<std::string, double> out;
    std::istringstream in(Exposition());
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto sp = line.rfind(' ');
        out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
    return out;
}

TEST(Metrics, RouteLabelsAreBounded) {
    EXPECT_EQ(RouteLabel("/api/demo/pay/check"), "pay/check");
    EXPECT_EQ(RouteLabel("/api/demo/pay/check_order"), "pay/check_order");
    EXPECT_EQ(RouteLabel("/api/any.site-1/pay/re_wx"), "pay/re_wx");
    EXPECT_EQ(RouteLabel("/healthz"), "healthz");
    EXPECT_EQ(RouteLabel("/metrics"), "metrics");
    // Unknown actions, extra segments, empty sites and other shapes never become new labels.
    for (const char* p : {"/api/demo/pay/nope", "/api/demo/pay/check/x", "/api//pay/check", "/api/demo/pay/",
                          "/api/demo/admin/check", "/", "", "/api/demo", "/api/demo/pay/re_evil\"}"})
        EXPECT_EQ(RouteLabel(p), "other") << p;
}

TEST(Metrics, DisabledIsANoOp) {
    if (Enabled()) GTEST_SKIP() << "another test mapped the region first";
    Request("/healthz", 200, 0.001);  // must not crash with no region
    EXPECT_EQ(SlotCount(), 0);
    EXPECT_EQ(Exposition(), "");
}

TEST(Metrics, ForkedWritersAreSummed) {
    ASSERT_TRUE(Init());
    ASSERT_GT(SlotCount(), 3);
    auto before = Samples();
    const std::string ok = "orderpay_http_requests_total{route=\"pay/check\",status=\"200\"}";
    const std::string other = "orderpay_http_requests_total{route=\"other\",status=\"other\"}";
    constexpr int kChildren = 4, kEach = 1000;
    for (int c = 0; c < kChildren; ++c) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            // Two children share slot 1: the atomics keep the sum exact anyway.
            UseSlot(c == 0 ? 1 : c);
            for (int i = 0; i < kEach; ++i) Request("/api/demo/pay/check", 200, 0.003);
            Request("/api/demo/pay/%00weird", 999, 0.2);
            ProviderCall("wx", Op::kCreate, Outcome::kTimeout, 10.5);
            ProviderCall("unknown-provider", Op::kQuery, Outcome::kOk, 0.02);
            Notification("zfb", "settled");
            Notification("zfb", "no-such-verdict");
            Notification("paypal", "paced");
            DbError("statement");
            DbError("not-a-kind");
            DbReconnect();
            BusyBegin();
            _exit(0);
        }
    }
    for (int c = 0; c < kChildren; ++c) {
        int st = 0;
        wait(&st);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    auto after = Samples();
    auto delta = [&](const std::string& k) { return after[k] - before[k]; };
    EXPECT_EQ(delta(ok), kChildren * kEach);
    EXPECT_EQ(delta(other), kChildren);
    EXPECT_EQ(
        delta("orderpay_provider_calls_total{provider=\"wx\",operation=\"create\",outcome=\"timeout\"}"),
        kChildren);
    EXPECT_EQ(delta("orderpay_provider_calls_total{provider=\"other\",operation=\"query\",outcome=\"ok\"}"),
              kChildren);
    EXPECT_EQ(
        delta(
            "orderpay_provider_call_duration_seconds_bucket{provider=\"wx\",operation=\"create\",le=\"10\"}"),
        0);
    EXPECT_EQ(delta("orderpay_provider_call_duration_seconds_bucket{provider=\"wx\",operation=\"create\",le="
                    "\"+Inf\"}"),
              kChildren);
    EXPECT_EQ(delta("orderpay_notifications_total{provider=\"zfb\",verdict=\"settled\"}"), kChildren);
    EXPECT_EQ(delta("orderpay_notifications_total{provider=\"zfb\",verdict=\"other\"}"), kChildren);
    EXPECT_EQ(delta("orderpay_notifications_total{provider=\"paypal\",verdict=\"paced\"}"), kChildren);
    EXPECT_EQ(delta("orderpay_db_errors_total{kind=\"statement\"}"), kChildren);
    EXPECT_EQ(delta("orderpay_db_reconnects_total"), kChildren);
    // The children "died" inside a request: the master clears their slots' busy flags.
    EXPECT_GE(after["orderpay_workers_busy"], 1);
    for (int s = 0; s < SlotCount(); ++s) ClearSlot(s, 0);
    EXPECT_EQ(Samples()["orderpay_workers_busy"], 0);

    // Buckets are cumulative and end at the count.
    const std::string h = "orderpay_http_request_duration_seconds";
    double prev = 0;
    for (const char* le :
         {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
        double v = after[h + "_bucket{route=\"pay/check\",le=\"" + le + "\"}"];
        EXPECT_GE(v, prev) << le;
        prev = v;
    }
    EXPECT_EQ(prev, after[h + "_count{route=\"pay/check\"}"]);
    EXPECT_EQ(after[h + "_bucket{route=\"pay/check\",le=\"0.005\"}"] -
                  before[h + "_bucket{route=\"pay/check\",le=\"0.005\"}"],
              kChildren * kEach);
    EXPECT_NEAR(after[h + "_sum{route=\"pay/check\"}"] - before[h + "_sum{route=\"pay/check\"}"],
                kChildren * kEach * 0.003, 0.01);
}

TEST(Metrics, RestartsAndConfiguredWorkers) {
    ASSERT_TRUE(Init());
    double before = Samples()["orderpay_worker_restarts_total"];
    WorkerRestarted();
    WorkerRestarted();
    SetWorkersConfigured(6);
    auto s = Samples();
    EXPECT_EQ(s["orderpay_worker_restarts_total"] - before, 2);
    EXPECT_EQ(s["orderpay_workers"], 6);
}

TEST(Metrics, TheReadyMarkTellsTheMasterWhetherADeadWorkerGotToServe) {
    ASSERT_TRUE(Init());
    ASSERT_GE(SlotCount(), 2);
    // Forks a worker on `slot` that marks itself ready or not, and reaps it.
    auto worker = [](int slot, bool ready) {
        pid_t pid = fork();
        if (pid == 0) {
            UseSlot(slot);
            if (ready) WorkerReady();
            _exit(0);
        }
        int status = 0;
        EXPECT_EQ(waitpid(pid, &status, 0), pid);
        return pid;
    };
    const pid_t a = worker(0, false), b = worker(1, true);
    EXPECT_FALSE(WasReady(0, a));
    EXPECT_TRUE(WasReady(1, b));
    // The slot's next worker dies before it is ready: its predecessor's mark is not its own.
    const pid_t c = worker(1, false);
    EXPECT_FALSE(WasReady(1, c));
    // Clearing a dead worker's mark (reaped late, or a slot-mate when there are more workers
    // than slots) leaves the mark of the worker that made it since.
    const pid_t d = worker(1, true);
    ClearSlot(1, b);
    EXPECT_TRUE(WasReady(1, d));
    ClearSlot(1, d);
    EXPECT_FALSE(WasReady(1, d));
    EXPECT_FALSE(WasReady(-1, d));
}

}  // namespace
}  // namespace orderpay::metrics

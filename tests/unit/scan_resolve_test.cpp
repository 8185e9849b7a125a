// Unit tests for providers::ResolveScan: the query-then-void loop both providers' scan payments
// share, and the mark its caller writes before a void (CreateParams::before_void) that a void
// refunding a payment made meanwhile needs (migration 016).
#include "orderpay/providers/scan_resolve.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace orderpay::providers {
namespace {

struct Fake {
    std::vector<std::string> calls;
    std::vector<QueryResult::State> answers;  // one per query; the last repeats
    VoidResult void_answer;

    ScanResolve Make(int tries) {
        ScanResolve r;
        r.tries = tries;
        r.interval_ms = 0;
        r.query = [this] {
            calls.push_back("query");
            QueryResult q;
            q.state = answers.size() >= calls.size() ? answers[calls.size() - 1] : answers.back();
            if (q.state == QueryResult::State::kPaid) q.txn_id = "T1", q.amount = 100, q.currency = "CNY";
            return q;
        };
        r.void_trade = [this] {
            calls.push_back("void");
            return void_answer;
        };
        r.before_void = [this] { calls.push_back("mark"); };
        r.void_name = "cancelled";
        return r;
    }
};

TEST(ScanResolveTest, PaidOnQueryNeverVoidsNorMarks) {
    Fake f;
    f.answers = {QueryResult::State::kPaying, QueryResult::State::kPaid};
    CreateResult r = ResolveScan(f.Make(3), "10003");
    EXPECT_EQ(r.outcome, Outcome::kPaid);
    EXPECT_EQ(r.txn_id, "T1");
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query", "query"}));
}

TEST(ScanResolveTest, ClosedOnQueryFailsWithoutAVoid) {
    Fake f;
    f.answers = {QueryResult::State::kClosed};
    EXPECT_EQ(ResolveScan(f.Make(3), "10003").outcome, Outcome::kFailed);
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query"}));
}

TEST(ScanResolveTest, TheMarkIsWrittenBeforeTheVoidAndAReversalIsPassedOn) {
    Fake f;
    f.answers = {QueryResult::State::kPaying};
    f.void_answer = VoidResult{true, "T9"};
    CreateResult r = ResolveScan(f.Make(2), "20000");
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query", "query", "mark", "void"}));
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reversed_txn, "T9");
    EXPECT_NE(r.message.find("refunded by the void"), std::string::npos) << r.message;
    // The till is told why, in words it can pass on (no note for the log, no transaction id).
    EXPECT_EQ(r.decline, "not confirmed in time, cancelled, and the money went back to the buyer");
}

TEST(ScanResolveTest, AFailureTheQueryReportsIsTheDeclineTheTillSees) {
    Fake f;
    f.answers = {QueryResult::State::kPaying};
    f.void_answer = VoidResult{true, ""};
    EXPECT_EQ(ResolveScan(f.Make(1), "10003").decline, "not confirmed in time, cancelled");
    Fake closed;
    closed.answers = {QueryResult::State::kClosed};
    EXPECT_EQ(ResolveScan(closed.Make(3), "10003").decline.rfind("scan payment failed", 0), 0u);
}

TEST(ScanResolveTest, AVoidThatFailsLeavesTheOutcomeUnknown) {
    Fake f;
    f.answers = {QueryResult::State::kUnknown};
    CreateResult r = ResolveScan(f.Make(1), "20000");
    EXPECT_EQ(r.outcome, Outcome::kUnknown);
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query", "mark", "void"}));
}

TEST(ScanResolveTest, AMarkThatCannotBeWrittenSendsNoVoid) {
    Fake f;
    f.answers = {QueryResult::State::kPaying};
    ScanResolve r = f.Make(1);
    r.before_void = [] { throw std::runtime_error("database gone"); };
    EXPECT_THROW(ResolveScan(r, "20000"), std::runtime_error);
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query"}));
}

TEST(ScanResolveTest, WithoutAMarkTheVoidStillRuns) {
    Fake f;
    f.answers = {QueryResult::State::kNotPaid};
    f.void_answer = VoidResult{true, ""};
    ScanResolve r = f.Make(1);
    r.before_void = nullptr;
    EXPECT_EQ(ResolveScan(r, "20000").outcome, Outcome::kFailed);
    EXPECT_EQ(f.calls, (std::vector<std::string>{"query", "void"}));
}

// EndScanByVoid: how expiry and a retired slip end a scan trade (WeChat: reverse, not closeorder).
TEST(EndScanTest, OnlyAnUnpaidTradeIsVoidedAndAPaidOneIsKept) {
    using S = QueryResult::State;
    struct Case {
        S state;
        bool void_works;
        bool closed, already_paid, voided;
    };
    const Case cases[] = {
        {S::kPaid, true, false, true, false},      // kept: the caller settles it
        {S::kClosed, true, true, false, false},    // over already: nothing to reverse
        {S::kFailed, true, true, false, false},    //
        {S::kNotFound, true, true, false, false},  // never arrived
        {S::kUnknown, true, false, false, false},  // unclear: nothing done, the next run asks again
        {S::kNotPaid, true, true, false, true},    // reversed
        {S::kPaying, true, true, false, true},     // the buyer is confirming: reversed
        {S::kPaying, false, false, false, true},   // the reverse failed: not closed
    };
    for (const Case& c : cases) {
        bool voided = false;
        const CloseResult r = EndScanByVoid(
            [&] {
                QueryResult q;
                q.state = c.state;
                q.message = "STATE";
                return q;
            },
            [&] {
                voided = true;
                return c.void_works;
            },
            "reversed");
        SCOPED_TRACE(static_cast<int>(c.state));
        EXPECT_EQ(r.closed, c.closed);
        EXPECT_EQ(r.already_paid, c.already_paid);
        EXPECT_EQ(voided, c.voided);
        EXPECT_EQ(r.message.rfind("query: STATE", 0), 0U) << r.message;
        EXPECT_TRUE(r.reversed_txn.empty());
    }
}

}  // namespace
}  // namespace orderpay::providers

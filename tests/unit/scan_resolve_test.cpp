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

}  // namespace
}  // namespace orderpay::providers

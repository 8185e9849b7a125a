// Unit tests for the inbox's retention marks on a decided notification (app::MarkForRetention):
// which rows go with the unverified ones (`return: `, `unconfirmed: `) and which are never marked
// (settled rows, what the provider's answer bore out, refusals, errors, other providers' words).
#include <gtest/gtest.h>

#include "orderpay/app/notify.hpp"

namespace orderpay {
namespace {

using A = providers::NotifyAnswer;

app::NotifyEval Webhook() {
    app::NotifyEval ev;
    ev.notice.parsed = true;
    ev.notice.may_settle = true;
    return ev;
}

app::NotifyEval Return() {
    app::NotifyEval ev = Webhook();
    ev.notice.may_settle = false;
    return ev;
}

// The reason `d` ends with once marked for a provider whose word is only a cue (`cue`) or not.
std::string Marked(const app::NotifyEval& ev, app::NotifyDecision d, bool cue = true) {
    app::MarkForRetention(ev, cue, d);
    return d.reason;
}

app::NotifyDecision Confirmed(app::NotifyDecision d) {
    d.confirmed = true;
    return d;
}

app::NotifyDecision Written(app::NotifyDecision d) {
    d.written = d.recorded = true;
    return d;
}

TEST(RetentionMarkTest, AnAcknowledgedCueThatAskedNothingIsUnconfirmed) {
    for (const char* verdict : {"duplicate", "ignored"})
        EXPECT_EQ(Marked(Webhook(), {verdict, "slip already paid", A::kAccepted}),
                  "unconfirmed: slip already paid")
            << verdict;
    // A finished refund told again (review s30: kept for good before).
    EXPECT_EQ(Marked(Webhook(), {"duplicate", "refund r1 already OK", A::kAccepted}),
              "unconfirmed: refund r1 already OK");
}

TEST(RetentionMarkTest, WhatTheProviderBoreOutIsNeverMarked) {
    // A chargeback, a refund made outside orderpay, a refund conflict: reports reconcile lists.
    for (const char* reason : {"no refund of ours named C1: chargeback: the provider's order REVERSED",
                               "no refund of ours named R9: the provider's refund COMPLETED",
                               "conflict: refund r1 confirmed OK, recorded otherwise",
                               "notified paid, but the provider's order says: REFUNDED",
                               "not completed: the buyer has not approved it (422)"})
        EXPECT_EQ(Marked(Webhook(), Confirmed({"ignored", reason, A::kAccepted})), reason);
    EXPECT_EQ(Marked(Webhook(), Confirmed({"duplicate", "refund r1 already OK", A::kAccepted})),
              "refund r1 already OK");
}

TEST(RetentionMarkTest, WhatASettlementWroteIsNeverMarked) {
    const std::string why = "confirmed by query: settled";
    EXPECT_EQ(Marked(Webhook(), Written({"settled", why, A::kAccepted})), why);
    EXPECT_EQ(Marked(Webhook(), Written({"duplicate", "completed: slip already OK", A::kAccepted})),
              "completed: slip already OK");
    EXPECT_EQ(Marked(Return(), Written({"settled", why, A::kAccepted})), why);
}

TEST(RetentionMarkTest, RefusalsAndErrorsAreNotUnconfirmed) {
    // A refusal is `unverified: ` where Decide says so, or a signed one's, kept; an error is
    // judged again (a paced one has its own mark, PACED_RE).
    EXPECT_EQ(Marked(Webhook(), {"rejected", "amount check failed", A::kRefused}), "amount check failed");
    EXPECT_EQ(Marked(Webhook(), {"error", "paced: notified paid", A::kError}), "paced: notified paid");
    EXPECT_EQ(Marked(Webhook(), {"error", "the query failed", A::kError}), "the query failed");
}

TEST(RetentionMarkTest, OnlyAProviderWhoseWordIsACueIsUnconfirmed) {
    EXPECT_EQ(Marked(Webhook(), {"duplicate", "event e1 was handled before", A::kAccepted}, false),
              "event e1 was handled before");
    EXPECT_EQ(Marked(Webhook(), {"ignored", "not paid: WAIT_BUYER_PAY", A::kAccepted}, false),
              "not paid: WAIT_BUYER_PAY");
}

TEST(RetentionMarkTest, AReasonIsMarkedOnce) {
    EXPECT_EQ(
        Marked(Webhook(), {"ignored", "unverified: notified REVERSED, but slip s is FAIL", A::kAccepted}),
        "unverified: notified REVERSED, but slip s is FAIL");
    EXPECT_EQ(Marked(Webhook(), {"ignored", "unconfirmed: x", A::kAccepted}), "unconfirmed: x");
    EXPECT_EQ(Marked(Return(), {"rejected", "unverified: site check failed", A::kRefused}),
              "unverified: site check failed");
}

TEST(RetentionMarkTest, AReturnIsAReturnWhateverItAskedButASettlementOrARefusal) {
    for (bool cue : {true, false}) {
        EXPECT_EQ(Marked(Return(), {"duplicate", "slip already paid", A::kAccepted}, cue),
                  "return: slip already paid");
        EXPECT_EQ(Marked(Return(), Confirmed({"ignored", "completion pending: PENDING", A::kAccepted}), cue),
                  "return: completion pending: PENDING");
        EXPECT_EQ(Marked(Return(), {"error", "completion outcome unknown", A::kError}, cue),
                  "return: completion outcome unknown");
        // Alipay's signed return naming another amount is kept as any signed refusal is.
        EXPECT_EQ(Marked(Return(), {"rejected", "amount check failed", A::kRefused}, cue),
                  "amount check failed");
    }
}

TEST(RetentionMarkTest, AnUnreadableMessageIsLeftToItsOwnMark) {
    app::NotifyEval ev;  // not parsed: Decide wrote `unverified: ` itself
    EXPECT_EQ(Marked(ev, {"ignored", "malformed", A::kAccepted}), "malformed");
}

}  // namespace
}  // namespace orderpay

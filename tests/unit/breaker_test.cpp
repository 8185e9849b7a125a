// The gateway circuit breaker's state machine (providers/breaker.hpp): opens after the
// configured timeouts in a row, refuses while open, lets exactly one probe through after the
// open period, closes on any answer, and is off when its threshold is 0.
#include "orderpay/providers/breaker.hpp"

#include <gtest/gtest.h>

namespace orderpay::providers::breaker {
namespace {

const Policy kThree{3, 1000};

TEST(BreakerTest, OpensOnlyAfterTheTimeoutsInARow) {
    Slot s;
    EXPECT_EQ(After(s, kThree, false, true, 0), Change::kNone);
    EXPECT_EQ(After(s, kThree, false, true, 10), Change::kNone);
    EXPECT_EQ(Before(s, kThree, 20), Gate::kPass);
    EXPECT_EQ(After(s, kThree, false, true, 30), Change::kOpened);
    EXPECT_EQ(Before(s, kThree, 31), Gate::kRefuse);
    EXPECT_EQ(Before(s, kThree, 1029), Gate::kRefuse);
}

TEST(BreakerTest, AnAnswerBetweenTimeoutsStartsTheCountAgain) {
    Slot s;
    After(s, kThree, false, true, 0);
    After(s, kThree, false, true, 1);
    EXPECT_EQ(After(s, kThree, true, false, 2), Change::kNone);  // an HTTP error status still answers
    After(s, kThree, false, true, 3);
    After(s, kThree, false, true, 4);
    EXPECT_EQ(Before(s, kThree, 5), Gate::kPass);
}

TEST(BreakerTest, RefusedConnectionsAndOtherFailuresDoNotCount) {
    Slot s;
    for (int i = 0; i < 10; ++i) EXPECT_EQ(After(s, kThree, false, false, i), Change::kNone);
    EXPECT_EQ(Before(s, kThree, 20), Gate::kPass);
}

TEST(BreakerTest, OneProbeAfterTheOpenPeriodAndItsAnswerCloses) {
    Slot s;
    for (int i = 0; i < 3; ++i) After(s, kThree, false, true, 0);
    EXPECT_EQ(Before(s, kThree, 1000), Gate::kProbe);
    EXPECT_EQ(Before(s, kThree, 1001), Gate::kRefuse);  // the others wait for the probe
    EXPECT_EQ(After(s, kThree, true, false, 1050), Change::kClosed);
    EXPECT_EQ(Before(s, kThree, 1051), Gate::kPass);
    // Closed again, it takes three new timeouts to open.
    After(s, kThree, false, true, 1060);
    EXPECT_EQ(Before(s, kThree, 1061), Gate::kPass);
}

TEST(BreakerTest, AProbeThatTimesOutReopensForAnotherPeriod) {
    Slot s;
    for (int i = 0; i < 3; ++i) After(s, kThree, false, true, 0);
    EXPECT_EQ(Before(s, kThree, 1000), Gate::kProbe);
    EXPECT_EQ(After(s, kThree, false, true, 1500), Change::kNone);  // still open: no second "opened"
    EXPECT_EQ(Before(s, kThree, 2499), Gate::kRefuse);
    EXPECT_EQ(Before(s, kThree, 2500), Gate::kProbe);
}

TEST(BreakerTest, AProbeThatNeverReportsIsGivenUpAfterAnotherPeriod) {
    Slot s;
    for (int i = 0; i < 3; ++i) After(s, kThree, false, true, 0);
    EXPECT_EQ(Before(s, kThree, 1000), Gate::kProbe);  // its worker dies
    EXPECT_EQ(Before(s, kThree, 1999), Gate::kRefuse);
    EXPECT_EQ(Before(s, kThree, 2000), Gate::kProbe);
}

TEST(BreakerTest, ThresholdZeroNeverOpens) {
    Slot s;
    const Policy off{0, 1000};
    for (int i = 0; i < 100; ++i) EXPECT_EQ(After(s, off, false, true, i), Change::kNone);
    EXPECT_EQ(Before(s, off, 200), Gate::kPass);
}

TEST(BreakerTest, OriginIsSchemeHostAndPortLowerCased) {
    EXPECT_EQ(Origin("https://API.mch.weixin.qq.com/pay/unifiedorder"), "https://api.mch.weixin.qq.com");
    EXPECT_EQ(Origin("https://127.0.0.1:8443/gateway.do?charset=utf-8"), "https://127.0.0.1:8443");
    EXPECT_EQ(Origin("https://api-m.paypal.com"), "https://api-m.paypal.com");
    EXPECT_EQ(Origin("no-scheme"), "no-scheme");
}

TEST(BreakerTest, EachOriginHasItsOwnSlot) {
    Slot* a = SlotFor("https://a.example:1");
    Slot* b = SlotFor("https://b.example:1");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    EXPECT_EQ(SlotFor("https://a.example:1"), a);
}

}  // namespace
}  // namespace orderpay::providers::breaker

// app::DescribeFulfil: which answers of `order ship|done` (and admin/ship|done) succeed, which
// refuse, and that each names the order's state.
#include "orderpay/app/fulfil.hpp"

#include <gtest/gtest.h>

namespace orderpay {
namespace {

using app::FulfilOutcome;
using store::FulfilStep;

store::FulfilRow Row(const std::string& st, const std::string& tp = "A", bool changed = false) {
    store::FulfilRow r;
    r.or_st = st;
    r.tp = tp;
    r.changed = changed;
    r.paid = 2500;
    return r;
}

FulfilOutcome Ship(const store::FulfilRow& r) {
    return app::DescribeFulfil("o1", FulfilStep::kShip, r).outcome;
}
FulfilOutcome Done(const store::FulfilRow& r) {
    return app::DescribeFulfil("o1", FulfilStep::kDone, r).outcome;
}

TEST(Fulfil, MovedWhenTheUpdateChangedTheOrder) {
    EXPECT_EQ(Ship(Row("SP", "A", true)), FulfilOutcome::kMoved);
    EXPECT_EQ(Done(Row("DN", "A", true)), FulfilOutcome::kMoved);
}

TEST(Fulfil, ARepeatIsAlreadyDone) {
    EXPECT_EQ(Ship(Row("SP")), FulfilOutcome::kAlready);
    EXPECT_EQ(Ship(Row("DN")), FulfilOutcome::kAlready);  // done implies shipped
    EXPECT_EQ(Done(Row("DN")), FulfilOutcome::kAlready);
    EXPECT_EQ(Done(Row("DN", "Q")), FulfilOutcome::kAlready);
}

TEST(Fulfil, OtherStatesAreRefusedByName) {
    for (const char* st : {"NW", "WT", "FA", "RF"}) {
        EXPECT_EQ(Ship(Row(st)), FulfilOutcome::kRefused) << st;
        EXPECT_EQ(Done(Row(st)), FulfilOutcome::kRefused) << st;
        EXPECT_NE(app::DescribeFulfil("o1", FulfilStep::kShip, Row(st)).message.find(std::string("is ") + st),
                  std::string::npos);
    }
    // Goods go OK -> SP -> DN, never OK -> DN; virtual goods have nothing to ship.
    const app::FulfilAnswer a = app::DescribeFulfil("o1", FulfilStep::kDone, Row("OK"));
    EXPECT_EQ(a.outcome, FulfilOutcome::kRefused);
    EXPECT_NE(a.message.find("order ship o1"), std::string::npos) << a.message;
    EXPECT_EQ(Ship(Row("DN", "Q")), FulfilOutcome::kRefused);
}

TEST(Fulfil, TheStateItLeavesButNotMovedMeansARefundOfAllOfIt) {
    store::FulfilRow r = Row("OK");
    r.held = 2500;
    r.under_way = "r1 PROCESSING";
    const app::FulfilAnswer a = app::DescribeFulfil("o1", FulfilStep::kShip, r);
    EXPECT_EQ(a.outcome, FulfilOutcome::kRefused);
    EXPECT_NE(a.message.find("refund r1 PROCESSING"), std::string::npos) << a.message;
    EXPECT_EQ(Done(Row("SP")), FulfilOutcome::kRefused);
}

}  // namespace
}  // namespace orderpay

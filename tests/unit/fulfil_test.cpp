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
    // The API says the same words as the CLI, but names no CLI command (review s28-newuser #9).
    EXPECT_EQ(a.message, "order o1 is OK (paid, not shipped): ship it first");
    EXPECT_EQ(a.cli_hint, "orderpay order ship o1");
    EXPECT_EQ(Ship(Row("DN", "Q")), FulfilOutcome::kRefused);
}

TEST(Fulfil, NoMessageNamesACliCommand) {
    store::FulfilRow voiding = Row("OK");
    voiding.voiding = true;
    store::FulfilRow chargeback = Row("SP");
    chargeback.chargeback = true;
    for (const store::FulfilRow& r :
         {Row("OK"), Row("SP"), Row("DN"), Row("WT"), Row("RF"), Row("DN", "Q"), voiding, chargeback})
        for (FulfilStep step : {FulfilStep::kShip, FulfilStep::kDone})
            EXPECT_EQ(app::DescribeFulfil("o1", step, r).message.find("orderpay"), std::string::npos)
                << app::DescribeFulfil("o1", step, r).message;
    EXPECT_EQ(app::DescribeFulfil("o1", FulfilStep::kShip, voiding).cli_hint,
              "orderpay reconcile lists it VOID until then");
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

// A payment its provider took back is gone for good: neither shipped nor closed, said before
// anything else that holds it, and a repeat of what was done before it came is still "already".
TEST(Fulfil, AChargebackRefusesShipAndDoneForGood) {
    store::FulfilRow r = Row("OK");
    r.chargeback = true;
    r.voiding = true;
    const app::FulfilAnswer a = app::DescribeFulfil("o1", FulfilStep::kShip, r);
    EXPECT_EQ(a.outcome, FulfilOutcome::kRefused);
    EXPECT_NE(a.message.find("took the payment back (a chargeback): do not ship it; settle with the buyer"),
              std::string::npos)
        << a.message;
    EXPECT_NE(a.cli_hint.find("CHARGEBACK"), std::string::npos) << a.cli_hint;
    r.or_st = "SP";
    r.voiding = false;
    EXPECT_NE(app::DescribeFulfil("o1", FulfilStep::kDone, r).message.find("do not close it"),
              std::string::npos);
    EXPECT_EQ(Ship(r), FulfilOutcome::kAlready);
    r.or_st = "DN";
    EXPECT_EQ(Done(r), FulfilOutcome::kAlready);
}

// `order done --charged-back`: the one way to end such an order. It moves only with a chargeback
// on record, says whether the goods ever left, and names the command on the ship/done refusal.
FulfilOutcome Close(const store::FulfilRow& r) {
    return app::DescribeFulfil("o1", FulfilStep::kCloseChargedBack, r).outcome;
}

TEST(Fulfil, AChargedBackOrderIsClosedWithoutMakingUpAShipment) {
    store::FulfilRow r = Row("DN", "A", true);
    r.chargeback = true;
    EXPECT_EQ(Close(r), FulfilOutcome::kMoved);
    EXPECT_EQ(app::DescribeFulfil("o1", FulfilStep::kCloseChargedBack, r).message,
              "order o1 done after its chargeback (OK -> DN, never shipped)");
    r.shipped = true;
    EXPECT_EQ(app::DescribeFulfil("o1", FulfilStep::kCloseChargedBack, r).message,
              "order o1 done after its chargeback (SP -> DN)");
    r.changed = false;  // a repeat after a timeout, or another operator first
    EXPECT_EQ(Close(r), FulfilOutcome::kAlready);
    // Ship and done name the way out, for the CLI only.
    store::FulfilRow ok = Row("OK");
    ok.chargeback = true;
    EXPECT_NE(app::DescribeFulfil("o1", FulfilStep::kShip, ok)
                  .cli_hint.find("orderpay order done o1 --charged-back"),
              std::string::npos);
}

TEST(Fulfil, TheCloseIsRefusedWithoutAChargebackOnRecordWhateverTheState) {
    for (const char* st : {"NW", "WT", "OK", "FA", "SP", "DN", "RF"}) {
        const app::FulfilAnswer a = app::DescribeFulfil("o1", FulfilStep::kCloseChargedBack, Row(st));
        EXPECT_EQ(a.outcome, FulfilOutcome::kRefused) << st;
        EXPECT_NE(a.message.find("no chargeback of its payment is on record"), std::string::npos)
            << a.message;
        EXPECT_NE(a.message.find(std::string("is ") + st), std::string::npos) << a.message;
    }
    EXPECT_EQ(app::DescribeFulfil("o1", FulfilStep::kCloseChargedBack, Row("OK")).cli_hint,
              "orderpay order ship o1");
    // A state the close does not leave, charged back: named, refused.
    for (const char* st : {"NW", "WT", "FA", "RF"}) {
        store::FulfilRow r = Row(st);
        r.chargeback = true;
        EXPECT_EQ(Close(r), FulfilOutcome::kRefused) << st;
    }
    store::FulfilRow q = Row("DN", "Q");
    q.chargeback = true;
    EXPECT_EQ(Close(q), FulfilOutcome::kAlready);  // virtual goods are done when paid
}

}  // namespace
}  // namespace orderpay

// Unit tests for domain/states: names round-trip and the full transition tables.
#include "orderpay/domain/states.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace orderpay::domain {
namespace {

using O = OrderState;
using S = SlipState;
using T = OrderType;
using R = RefundState;

constexpr O kAllOrder[] = {O::kNW, O::kWT, O::kOK, O::kFA, O::kSP, O::kDN, O::kRF};
constexpr S kAllSlip[] = {S::kNew, S::kWait, S::kOk, S::kFail};
constexpr R kAllRefund[] = {R::kNew, R::kProcessing, R::kOk, R::kFail};

TEST(StatesTest, OrderStateNames) {
    const char* names[] = {"NW", "WT", "OK", "FA", "SP", "DN", "RF"};
    for (int i = 0; i < 7; ++i) {
        EXPECT_EQ(ToString(kAllOrder[i]), names[i]);
        EXPECT_EQ(ParseOrderState(names[i]), kAllOrder[i]);
    }
    for (const char* bad : {"", "nw", "NEW", "OK ", "X"}) EXPECT_FALSE(ParseOrderState(bad)) << bad;
}

TEST(StatesTest, SlipStateNames) {
    const char* names[] = {"NEW", "WAIT", "OK", "FAIL"};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(ToString(kAllSlip[i]), names[i]);
        EXPECT_EQ(ParseSlipState(names[i]), kAllSlip[i]);
    }
    for (const char* bad : {"", "new", "NW", "FA", "WAITING"}) EXPECT_FALSE(ParseSlipState(bad)) << bad;
}

TEST(StatesTest, OrderTypeNames) {
    EXPECT_EQ(ToString(T::kGoods), "A");
    EXPECT_EQ(ToString(T::kVirtual), "Q");
    EXPECT_EQ(ParseOrderType("A"), T::kGoods);
    EXPECT_EQ(ParseOrderType("Q"), T::kVirtual);
    for (const char* bad : {"", "a", "q", "B", "AQ"}) EXPECT_FALSE(ParseOrderType(bad)) << bad;
}

// Every (type, from, to) pair is checked against the exact allowed list: anything not listed
// must be refused, including self-transitions.
TEST(StatesTest, OrderTransitionsExhaustive) {
    const std::set<std::pair<O, O>> common = {
        {O::kNW, O::kWT},
        {O::kNW, O::kOK},
        {O::kWT, O::kOK},
        {O::kNW, O::kFA},
        {O::kWT, O::kFA},
        {O::kSP, O::kDN},
        {O::kFA, O::kOK},
        // Fully refunded, from any paid state.
        {O::kOK, O::kRF},
        {O::kSP, O::kRF},
        {O::kDN, O::kRF},
    };
    std::set<std::pair<O, O>> goods = common;
    goods.insert({O::kOK, O::kSP});
    std::set<std::pair<O, O>> virt = common;
    virt.insert({O::kOK, O::kDN});

    for (O from : kAllOrder) {
        for (O to : kAllOrder) {
            EXPECT_EQ(CanTransition(T::kGoods, from, to), goods.count({from, to}) == 1)
                << "A " << ToString(from) << "->" << ToString(to);
            EXPECT_EQ(CanTransition(T::kVirtual, from, to), virt.count({from, to}) == 1)
                << "Q " << ToString(from) << "->" << ToString(to);
        }
    }
}

TEST(StatesTest, OrderTransitionsSpotChecks) {
    EXPECT_FALSE(CanTransition(T::kGoods, O::kOK, O::kDN));    // goods must ship first
    EXPECT_FALSE(CanTransition(T::kVirtual, O::kOK, O::kSP));  // nothing to ship
    EXPECT_FALSE(CanTransition(T::kGoods, O::kOK, O::kFA));    // paid is never un-paid
    EXPECT_FALSE(CanTransition(T::kGoods, O::kOK, O::kNW));
    EXPECT_FALSE(CanTransition(T::kGoods, O::kDN, O::kOK));
    EXPECT_FALSE(CanTransition(T::kGoods, O::kWT, O::kNW));
    EXPECT_FALSE(CanTransition(T::kGoods, O::kFA, O::kWT));  // only a verified payment revives FA
    EXPECT_FALSE(CanTransition(T::kGoods, O::kOK, O::kOK));  // duplicate notification: no change
    EXPECT_FALSE(CanTransition(T::kGoods, O::kRF, O::kOK));  // a refund is never taken back
    EXPECT_FALSE(CanTransition(T::kGoods, O::kWT, O::kRF));  // nothing paid, nothing to refund
    EXPECT_FALSE(CanTransition(T::kGoods, O::kFA, O::kRF));
}

TEST(StatesTest, RefundStateNames) {
    const char* names[] = {"NEW", "PROCESSING", "OK", "FAIL"};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(ToString(kAllRefund[i]), names[i]);
        EXPECT_EQ(ParseRefundState(names[i]), kAllRefund[i]);
    }
    for (const char* bad : {"", "new", "WAIT", "PROCESS", "RF"}) EXPECT_FALSE(ParseRefundState(bad)) << bad;
}

TEST(StatesTest, RefundTransitionsExhaustive) {
    const std::set<std::pair<R, R>> allowed = {
        {R::kNew, R::kProcessing}, {R::kNew, R::kOk},          {R::kNew, R::kFail},
        {R::kProcessing, R::kOk},  {R::kProcessing, R::kFail},
    };
    for (R from : kAllRefund)
        for (R to : kAllRefund)
            EXPECT_EQ(CanTransition(from, to), allowed.count({from, to}) == 1)
                << ToString(from) << "->" << ToString(to);
}

TEST(StatesTest, SlipTransitionsExhaustive) {
    const std::set<std::pair<S, S>> allowed = {
        {S::kNew, S::kWait}, {S::kNew, S::kOk},    {S::kNew, S::kFail},
        {S::kWait, S::kOk},  {S::kWait, S::kFail}, {S::kFail, S::kOk},
    };
    for (S from : kAllSlip)
        for (S to : kAllSlip)
            EXPECT_EQ(CanTransition(from, to), allowed.count({from, to}) == 1)
                << ToString(from) << "->" << ToString(to);
}

TEST(StatesTest, IsPayable) {
    EXPECT_TRUE(IsPayable(O::kNW));
    EXPECT_TRUE(IsPayable(O::kWT));
    for (O s : {O::kOK, O::kFA, O::kSP, O::kDN, O::kRF}) EXPECT_FALSE(IsPayable(s)) << ToString(s);
}

TEST(StatesTest, IsPaidMeansPaidAndNotRefunded) {
    for (O s : {O::kOK, O::kSP, O::kDN}) EXPECT_TRUE(IsPaid(s)) << ToString(s);
    for (O s : {O::kNW, O::kWT, O::kFA, O::kRF}) EXPECT_FALSE(IsPaid(s)) << ToString(s);
}

}  // namespace
}  // namespace orderpay::domain

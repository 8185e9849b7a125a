// Order and payment-slip state machines (DESIGN.md §3) as pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace orderpay::domain {

enum class OrderState { kNW, kWT, kOK, kFA, kSP, kDN, kRF };
enum class SlipState { kNew, kWait, kOk, kFail };
/// A refund: written (NEW), asked of the provider (PROCESSING, also while the answer is unknown),
/// then OK (the money went back) or FAIL (it will not: the amount is free again).
enum class RefundState { kNew, kProcessing, kOk, kFail };
enum class OrderType { kGoods /* "A" */, kVirtual /* "Q" */ };

std::string_view ToString(OrderState s);   // "NW", "WT", "OK", "FA", "SP", "DN", "RF"
std::string_view ToString(SlipState s);    // "NEW", "WAIT", "OK", "FAIL"
std::string_view ToString(OrderType t);    // "A", "Q"
std::string_view ToString(RefundState s);  // "NEW", "PROCESSING", "OK", "FAIL"
std::optional<OrderState> ParseOrderState(std::string_view s);
std::optional<SlipState> ParseSlipState(std::string_view s);
std::optional<OrderType> ParseOrderType(std::string_view s);
std::optional<RefundState> ParseRefundState(std::string_view s);

/// Allowed order transitions: NW->WT, NW->OK, WT->OK, NW->FA, WT->FA, OK->SP (goods), SP->DN,
/// OK->DN (virtual only), FA->OK (a verified late payment re-settles an expired order), and
/// OK/SP/DN->RF (fully refunded: the OK refunds of the slip that paid it add up to its amount).
bool CanTransition(OrderType type, OrderState from, OrderState to);

/// Allowed slip transitions: NEW->WAIT, NEW->OK, NEW->FAIL, WAIT->OK, WAIT->FAIL, FAIL->OK (a
/// verified late payment is never thrown away).
bool CanTransition(SlipState from, SlipState to);

/// Allowed refund transitions: NEW->PROCESSING, NEW->OK, NEW->FAIL (a result that arrives before
/// the claim), PROCESSING->OK, PROCESSING->FAIL. OK and FAIL are final.
bool CanTransition(RefundState from, RefundState to);

/// An order that can still take a payment slip (pay/pay, pay/buy).
bool IsPayable(OrderState s);

/// An order the buyer has paid and that is not refunded (OK, SP, DN).
bool IsPaid(OrderState s);

}  // namespace orderpay::domain

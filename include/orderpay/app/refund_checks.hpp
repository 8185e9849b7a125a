// What a refund is checked against before anything is written or sent: the provider can refund,
// the payment is not charged back, no report contradicts a recorded refund. Split from refund.cpp
// so the flow reads on its own.
#pragma once

#include <optional>
#include <string>

#include "orderpay/app/context.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

/// The provider's report that puts the payment `req` would refund in doubt, or nothing; with
/// --despite-conflict nothing, logged.
std::optional<std::string> Contested(Context& ctx, const store::RefundRequest& req);

/// Records on a held refund sent by its key's replay with --despite-conflict that the operator
/// said so.
void NoteSentDespite(Context& ctx, const store::RefundRow& r);

/// The paid order (OK, SP, DN, RF) whose payment `slip` is, or nothing. Such a slip is refunded
/// as its order, never on its own (`refund --slip`, admin/refund's "slip"): those are for a
/// payment its order does not count (a late or double payment, refund_needed), and a mistyped
/// slip id gave a shop's real payment back in full without a question (review s25-newuser #15).
std::optional<store::OrderRecord> OrderPaidBy(db::Connection& c, const store::SlipRow& slip);

/// The record of the chargeback of the payment `req` would refund, or nothing.
std::optional<std::string> ChargedBack(Context& ctx, const store::RefundRequest& req);

}  // namespace orderpay::app

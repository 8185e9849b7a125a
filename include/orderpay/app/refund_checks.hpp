// What a refund is checked against before anything is written or sent: the provider can refund,
// the payment is not charged back, no report contradicts a recorded refund. Split from refund.cpp
// so the flow reads on its own.
#pragma once

#include <optional>
#include <string>

#include "orderpay/app/context.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

/// The provider's report that puts the payment `req` would refund in doubt, or nothing; with
/// --despite-conflict nothing, logged.
std::optional<std::string> Contested(Context& ctx, const store::RefundRequest& req);

/// Records on a held refund sent by its key's replay with --despite-conflict that the operator
/// said so.
void NoteSentDespite(Context& ctx, const store::RefundRow& r);

/// The record of the chargeback of the payment `req` would refund, or nothing.
std::optional<std::string> ChargedBack(Context& ctx, const store::RefundRequest& req);

}  // namespace orderpay::app

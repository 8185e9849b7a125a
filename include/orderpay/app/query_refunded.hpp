// A payment an order query found refunded at the provider since (WeChat's trade_state REFUND,
// PayPal's capture PARTIALLY_REFUNDED), for a slip orderpay had not yet recorded paid: it settles
// (the money did arrive), and the refunds orderpay did not make are recorded beside it, in the
// settlement's transaction, as an OUTSIDE report that `orderpay reconcile` lists.
#pragma once

#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::app {

struct RefundedRecord {
    std::string reason;  // an OUTSIDE report's ("no refund of ours named N: ..."); "" = nothing to record
    std::string body;    // what the provider's answer said of the payment and its refunds
};

/// The record of `q` (kPaid with `refunded`), leaving out the listed refunds `ours` says are
/// orderpay's own (by index into q.refunds). Pure.
RefundedRecord DescribeQueryRefunded(const providers::QueryResult& q, const std::vector<bool>& ours);

/// Sets `ev`'s refunded record from `q` for slip `slip_id` of provider `provider`, with orderpay's
/// own refunds of the slip (by our refund id or the provider's) left out. Nothing when `q` is not
/// a refunded payment.
void NoteQueryRefunded(db::Connection& c, const std::string& provider, const std::string& slip_id,
                       const providers::QueryResult& q, providers::PaidEvent& ev);

}  // namespace orderpay::app

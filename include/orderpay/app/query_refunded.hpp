// A payment an order query found refunded at the provider since (WeChat's trade_state REFUND,
// PayPal's capture PARTIALLY_REFUNDED), for a slip orderpay had not yet recorded paid: it settles
// (the money did arrive), and the refunds orderpay did not make are recorded beside it, in the
// settlement's transaction, as an OUTSIDE report that `orderpay reconcile` lists.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

struct RefundedRecord {
    std::string reason;  // an OUTSIDE report's ("no refund of ours named N: ..."); "" = nothing to record
    std::string body;    // what the provider's answer said of the payment and its refunds
};

/// What is known here of a refund the provider lists: nothing (a refund orderpay did not make,
/// reported now), orderpay's own refund, or one an earlier OUTSIDE report already names (its own
/// notification, come first: the money is counted, the name not reported twice).
enum class RefundKnown { kNew, kOurs, kReported };

/// The record of `q` (kPaid with `refunded`), with `known` saying of each listed refund (by index
/// into q.refunds; missing: kNew) what is known of it; nothing when the provider lists refunds
/// and none is new, or when it lists none and `reported_before` (an OUTSIDE report of the slip
/// exists: WeChat v3's answer names no refund to tell it from). Pure.
RefundedRecord DescribeQueryRefunded(const providers::QueryResult& q, const std::vector<RefundKnown>& known,
                                     bool reported_before = false);

/// A refund's name as an OUTSIDE report's reason carries it: a blank or control byte, a comma or
/// colon (which delimit the names), '%' and any byte past ASCII as %XX, so that every name reads
/// back as exactly itself and none can write the words of another kind of report (": chargeback:
/// ", review s30b F1); "(unnamed)" for "". Pure.
std::string ReportName(std::string_view name);

/// A refund's names in a report: the merchant's (`ours`: out_refund_no, PayPal's invoice_id) and
/// the provider's refund id, each escaped, comma-separated, once if they are the same. Pure.
std::string ReportNames(const std::string& ours, const std::string& providers);

/// The inbox row of an OUTSIDE report of slip `slip_id` (a refund notification's, or an order
/// query's record) naming the refund: by ours first when the provider keeps it unique
/// (`ours_unique`), then by the provider's id, or by ours when the provider gives none.
std::optional<std::string> RefundReportedBefore(db::Connection& c, const std::string& slip_id,
                                                const std::string& ours, const std::string& providers,
                                                bool ours_unique);

/// The refunded record of `q` for slip `slip_id` of provider `p`, with orderpay's own refunds of
/// the slip (by our refund id or the provider's) and those an OUTSIDE report of the slip already
/// names left out. Nothing when `q` is not a refunded payment.
RefundedRecord NoteQueryRefunded(db::Connection& c, const providers::Provider& p, const std::string& slip_id,
                                 const providers::QueryResult& q);

/// NoteQueryRefunded as a settlement on `q` runs it (store::SettleAndDecide's `refunded`): inside
/// its transaction, under the slip's row lock, so a refund notification's report committed first
/// is seen and one committing meanwhile waits for the lock (it takes it too: app/refund_notice).
/// Empty (nothing to describe) when `q` is not a refunded payment.
store::RefundedNote QueryRefundedNote(db::Connection& c, const providers::Provider& p,
                                      const std::string& slip_id, const providers::QueryResult& q);

}  // namespace orderpay::app

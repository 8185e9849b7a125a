// Settlement: turning a verified payment into slip OK and order OK, exactly once, in one
// transaction of conditional UPDATEs; late and double payments are kept and flagged.
#pragma once

#include <functional>
#include <string>

#include "orderpay/db/connection.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::store {

enum class SettleOutcome {
    kSettled,        // slip OK, order NW/WT -> OK (or DN for virtual goods)
    kDuplicate,      // the slip was already OK: nothing changed
    kLateSettled,    // the order had expired (FA); stock re-reserved and the order settled
    kRefundFlagged,  // paid, but the order cannot take it (paid by another slip, or no stock)
    kNoSlip,         // no such slip: nothing changed
    kMismatch,       // amount or currency differ from the slip: nothing changed
    kTxnReused,      // another slip already holds this provider transaction id: nothing changed
};

const char* ToString(SettleOutcome o);

/// The inbox record of refunds an order query found beside the payment it settles on (an OUTSIDE
/// report: reason, then body; an empty reason records nothing).
struct RefundedReport {
    std::string reason, body;
};
/// Says what that record is (app::QueryRefundedNote). Called inside the settlement's transaction,
/// after its statement has locked the slip's row, so it sees every report another path (a refund
/// notification, another query) committed first, and none can commit meanwhile.
using RefundedNote = std::function<RefundedReport()>;

/// Settles `ev` (already signature-verified and merchant-checked) against its slip, for the
/// provider `provider`. `detail` explains the outcome for the inbox and logs. `refunded`: see
/// SettleAndDecide.
SettleOutcome Settle(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                     std::string& detail, const RefundedNote& refunded = {});

struct SettleResult {
    SettleOutcome outcome = SettleOutcome::kNoSlip;
    std::string detail;
    std::string verdict;   // the notification verdict this outcome makes: settled, duplicate, rejected
    std::string reason;    // and its reason, as the inbox shows it
    bool decided = false;  // the row took the verdict (false: decided meanwhile, or no row)
};

/// Settle, and in the same transaction give the notification row `notification_row` (if not
/// empty) its verdict, unless it was decided meanwhile: one round trip. With `reason_prefix`
/// the verdict's reason starts with it (what the settlement rests on), in one more statement of
/// the same transaction. With `refunded` (a payment an order query found refunded at the
/// provider), the record it makes is written in that transaction too, when the payment is
/// recorded now or was recorded meanwhile by another path (a duplicate: its notification, which
/// says nothing of refunds, settled first).
SettleResult SettleAndDecide(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                             const std::string& notification_row, const std::string& reason_prefix = {},
                             const RefundedNote& refunded = {});

/// What SettleAndDecide would do with `ev` now, for `orderpay notify verify`: the settlement
/// itself runs in a transaction that is rolled back, so its answer is the endpoint's and nothing
/// it wrote stays (it holds the slip's row lock, and the order's, for that moment). No verdict
/// is written anywhere.
SettleResult PreviewSettle(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev);

/// A payment the provider took while we voided its slip, and refunded in the same step (Alipay's
/// cancel answering action=refund). In one transaction: settled as a confirmed payment would be,
/// then a full refund of the slip recorded OK (requested_by "provider"), so the order ends RF, or
/// the slip refund_needed and refunded; never paid on money the buyer has back. A second call
/// changes nothing (duplicate settle, nothing left to refund).
struct ReversalResult {
    SettleOutcome settle = SettleOutcome::kNoSlip;
    std::string refund_id;  // the refund recorded now; empty when none was (see detail)
    std::string detail;
    bool stock_released = false;  // the order's stock went back on the shelf (kOrderReleaseVoided)
    // This call marked the slip reversed; false: an earlier one did (another host's reconcile
    // recovering the same void), and the reversal is that one's to report.
    bool first = false;
};
ReversalResult RecordReversal(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev);

/// Expires one order if it is still NW/WT past its expiry: FA, stock given back, exactly once.
bool ExpireOrder(db::Connection& c, const std::string& order_id);

}  // namespace orderpay::store

// A chargeback: a paid slip's payment taken back by its provider (PayPal's capture REVERSED). The
// webhook is a cue (its signature covers a CRC32 of the body, so anyone holding one genuine
// transmission can write a twin naming any slip); only our own query of the provider's order
// proves it. Nothing of the order or its refunds changes: the money went back outside orderpay,
// as a refund made in the provider's console does, and the report is kept the way that is
// (OUTSIDE_RE, under CHARGEBACK_RE: src/store/sql_text.hpp) for reconcile and ship to read.
#include "orderpay/app/notify_reversal.hpp"

#include "orderpay/app/query_refunded.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/cache.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

namespace {

// One query per slip per kReversalPaceS across the workers, whoever prompts it: a burst of twins
// makes one call. Its own key, so forged reversals never pace an approval's capture (complete:).
constexpr std::int64_t kReversalPaceS = 2;

// Nothing was done on the message's word: it goes with the unverified rows (UNVERIFIED_RE).
const std::string kUnverified = "unverified: ";

// The reversal's own record at the provider (PayPal's GET /v2/payments/refunds/{id}), when the
// event told it as a refund of the capture: what to record ("the provider's refund ..."), or
// nullopt when it does not bear the event out (no such refund, of another capture, not done, or
// a refund of ours, which its own notification records), or "error: ..." when it could not be
// asked (answered kError, so the event is sent again).
std::optional<std::string> ReversalOnRecord(db::Connection& c, const providers::Provider& p,
                                            const NotifyEval& ev, const std::string& capture) {
    if (ev.event.reversal_id.empty() || capture.empty()) return std::nullopt;
    providers::RefundParams params;
    params.slip_id = ev.slip->id;
    params.txn_id = capture;
    params.currency = ev.slip->currency;
    params.provider_refund_id = ev.event.reversal_id;
    providers::RefundResult r;
    try {
        r = providers::MeteredConfirmRefund(p, *ev.merchant, params);
    } catch (const std::exception& e) {
        return std::string("error: ") + e.what();
    }
    if (r.not_this_refund) return std::nullopt;
    if (r.state == providers::RefundResult::State::kUnknown) return "error: " + r.message;
    if (r.state != providers::RefundResult::State::kOk) return std::nullopt;
    if (!r.refund_no.empty())
        if (std::optional<store::RefundRow> ours = store::FindRefund(c, r.refund_no);
            ours && ours->slip_id == ev.slip->id)
            return std::nullopt;
    return "the provider's refund " + ev.event.reversal_id + " of capture " + capture + ": " + r.message;
}

}  // namespace

NotifyDecision ConfirmReversal(db::Connection& c, const providers::Provider& p, const NotifyEval& ev) {
    using A = providers::NotifyAnswer;
    const store::SlipRow& slip = *ev.slip;
    const std::string told = "notified " + ev.event.status + " of capture " +
                             (ev.event.txn_id.empty() ? std::string("(none)") : ev.event.txn_id);
    // An open slip is asked about by pay/check and reconcile, and fails on a reversed capture; a
    // failed one holds no money of ours.
    if (slip.st != domain::SlipState::kOk)
        return {"ignored",
                kUnverified + told + ", but slip " + slip.id + " is " +
                    std::string(domain::ToString(slip.st)) + ": no payment of ours to take back",
                A::kAccepted};
    // The capture the event names is not compared: PayPal's reversal may be told as a refund of
    // it, whose own id is no capture, and only the answer below is believed anyway.
    const std::string capture = slip.provider_txn_id.value_or("");
    if (store::ChargebackRecorded(c, slip.id))
        return {"duplicate", "chargeback of capture " + capture + " already recorded", A::kAccepted};
    // A paced one asked nothing, and is sent again by the provider (PACED_RE: the inbox drops it
    // with the unverified rows); the one that asked records what the provider's order says.
    if (!store::CacheClaim(c, "reversal:" + slip.id, kReversalPaceS)) {
        if (store::ChargebackRecorded(c, slip.id))
            return {"duplicate", "chargeback of capture " + capture + " already recorded", A::kAccepted};
        NotifyDecision d{"error",
                         "paced: " + told + "; PayPal's order was asked less than " +
                             std::to_string(kReversalPaceS) + " s ago (sent again by the provider)",
                         A::kError};
        d.paced = true;  // counted as paced, not as an error an operator is alerted to (metrics)
        return d;
    }
    providers::QueryResult q = providers::MeteredConfirmPaid(p, *ev.merchant, slip.id, slip.provider_ref);
    if (q.state == providers::QueryResult::State::kUnknown)
        return {"error", told + "; the query to confirm it failed: " + q.message, A::kError};
    std::string record = "the provider's " + q.message;
    if (!q.reversed || capture.empty() || q.txn_id != capture) {
        // PayPal's capture statuses name no REVERSED (COMPLETED, DECLINED, PARTIALLY_REFUNDED,
        // PENDING, REFUNDED, FAILED): a chargeback, partial or whole, shows as money refunded,
        // and the event's resource is that reversal, a refund of the capture. Its own record,
        // asked by its id, must be of this slip's capture, done, and no refund of ours (review
        // s29b F1: a partial reversal, or one shown REFUNDED, was refused for good).
        std::optional<std::string> refund = ReversalOnRecord(c, p, ev, capture);
        if (!refund)
            return {"rejected", kUnverified + told + ", but the provider's order says: " + q.message,
                    A::kRefused};
        if (refund->rfind("error: ", 0) == 0)
            return {"error", told + "; the query to confirm it failed: " + refund->substr(7), A::kError};
        record = *refund;
    }
    log::Error("slip ", slip.id, " (order ", slip.order_id, "): chargeback: the provider took back capture ",
               capture, " (", record,
               "); the order still counts the payment: do not ship it, settle with the buyer");
    // The provider's answer bears it out: a report, kept (CHARGEBACK_RE), never marked.
    NotifyDecision d{"ignored", "no refund of ours named " + ReportName(capture) + ": chargeback: " + record,
                     A::kAccepted};
    d.confirmed = true;
    return d;
}

}  // namespace orderpay::app

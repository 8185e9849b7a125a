// Payments settled only on the provider's own answer (SettlesOnOwnQuery providers, PayPal): an
// approval completed at the provider, and "paid" or "denied" webhooks confirmed by our query.
// The webhook is a cue; the provider's record is the only word that settles or fails a slip.
#include "orderpay/app/notify_confirm.hpp"

#include "orderpay/app/query_refunded.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/cache.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

namespace {

// One completion asked of the provider per slip per kAskPaceS, across the workers, whoever asks:
// a buyer's return (unsigned) or a webhook (its signature binds only a CRC32 of the body, so one
// genuine transmission makes any number of verified twins naming the slip). Shared, so a return
// and the approval webhook for the same slip make one capture call between them.
constexpr std::int64_t kAskPaceS = 2;

// One query of the provider's order per slip per kAskPaceS for "paid" webhooks about a slip
// already paid, naming another capture than its own (Confirm), across the workers: a CRC32 twin
// with a made-up capture id was a query each, unpaced, for a slip no answer can settle again.
// Its own key, so these twins never pace an approval's capture (complete:) or a chargeback's
// query (reversal:). Not a slip that can still be paid (open, or failed and paid late): each
// copy there may be the payment's only cue, and is asked about as it always was.
bool ClaimQuery(db::Connection& c, const store::SlipRow& slip) {
    return store::CacheClaim(c, "confirm:" + slip.id, kAskPaceS);
}

// The loser of a return's and a webhook's race for a slip, judged on the slip as it was read
// before the winner settled it, says so rather than "can no longer take money" or "paced".
std::optional<NotifyDecision> PaidMeanwhile(db::Connection& c, const store::SlipRow& slip) {
    std::optional<store::SlipRow> now = store::FindSlip(c, slip.id);
    if (!now || now->st != domain::SlipState::kOk) return std::nullopt;
    return NotifyDecision{"duplicate", "slip already paid (completed meanwhile on another message)",
                          providers::NotifyAnswer::kAccepted};
}

// A completion not asked for now: another message for the slip asked less than kAskPaceS ago,
// and its answer is recorded on its own row. "paced: " (PACED_RE, src/store/sql_text.hpp) goes
// with the inbox's unverified rows: nothing was done on its word. A return is answered and
// done (pay/check completes the slip). A webhook is answered as an error, so the provider sends
// it again: the message that asked first may have been a return before approval or a capture
// whose answer was lost, and acknowledged, PayPal's one approval webhook was never sent again,
// leaving an approved payment to pay/check or reconcile, near expiry none (review s28-diff #1).
NotifyDecision Paced(db::Connection& c, const store::SlipRow& slip, bool webhook) {
    using A = providers::NotifyAnswer;
    if (std::optional<NotifyDecision> d = PaidMeanwhile(c, slip)) return *d;
    const std::string why =
        "paced: approved; its completion was asked for less than " + std::to_string(kAskPaceS) + " s ago";
    NotifyDecision d =
        webhook ? NotifyDecision{"error", why + " (sent again by the provider, or completed by pay/check)",
                                 A::kError}
                : NotifyDecision{"ignored", why + " (that answer, pay/check or reconcile completes it)",
                                 A::kAccepted};
    d.paced = true;
    return d;
}

// Settles a slip on the provider's own answer (Complete's or ConfirmPaid's), never on the
// message that prompted the call: `what` names that call in the inbox. The verdict of the stored
// row `row_id` is written in the settlement's transaction, as a settling message's is.
NotifyDecision SettleOnAnswer(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                              const providers::QueryResult& q, const std::string& what,
                              const std::string& row_id) {
    using A = providers::NotifyAnswer;
    const store::SlipRow& slip = *ev.slip;
    providers::PaidEvent paid{
        slip.id, q.txn_id, q.amount,   q.currency, ev.merchant->app_id, ev.merchant->mch_id,
        true,    false,    "COMPLETED"};
    store::SettleResult r = store::SettleAndDecide(c, std::string(p.Id()), paid, row_id, what + ": ",
                                                   QueryRefundedNote(c, p, slip.id, q));
    if (row_id.empty()) r.reason = what + ": " + r.reason;
    NotifyDecision d{r.verdict, r.reason, r.verdict == "rejected" ? A::kRefused : A::kAccepted,
                     !row_id.empty(), r.decided};
    d.confirmed = true;
    return d;
}

// A decision on what the provider answered when asked about this message.
NotifyDecision Confirmed(NotifyDecision d) {
    d.confirmed = true;
    return d;
}

}  // namespace

// Completes an approved payment, never for a slip that can no longer take money (superseded,
// failed, expired, or an order that is not payable): an approved but uncompleted PayPal order
// takes nothing. A completion whose outcome is unknown is answered kError, so the provider
// sends the approval again and the next copy (or pay/check) completes it. Each decision says
// what was found of the payment (found_status): a return's reply reports that, not its claim.
NotifyDecision Complete(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                        const std::string& row_id) {
    using A = providers::NotifyAnswer;
    auto found = [](NotifyDecision d, const char* status) {
        d.found_status = status;
        return d;
    };
    const store::SlipRow& slip = *ev.slip;
    if (slip.st == domain::SlipState::kOk)
        return found({"duplicate", "slip already paid", A::kAccepted}, "COMPLETED");
    if (!slip.Open() || slip.superseded || !store::OrderPayableNow(c, slip.order_id, slip.id)) {
        if (slip.Open())
            if (std::optional<NotifyDecision> d = PaidMeanwhile(c, slip)) return found(*d, "COMPLETED");
        // Nothing asked: a twin says as much (unconfirmed: MarkForRetention; review s29-diff L1).
        return found({"ignored", "approved, not completed: slip " + slip.id + " can no longer take money",
                      A::kAccepted},
                     "CLOSED");
    }
    // A buyer's return is unsigned: anyone holding the PayPal order id may send it as often as
    // they like, and each was a capture call held open in a worker (review s25-attack #1); a
    // webhook's twins cost their sender as little, and each was a capture call on our credentials.
    // The first asks at once; the key is the one returns have always used. A paced one asked
    // nothing: its state is not known here, unless another message settled it meanwhile.
    if (!store::CacheClaim(c, "complete:" + slip.id, kAskPaceS)) {
        NotifyDecision d = Paced(c, slip, ev.notice.may_settle);
        return found(d, d.verdict == "duplicate" ? "COMPLETED" : "UNKNOWN");
    }
    providers::QueryResult q = providers::MeteredComplete(p, *ev.merchant, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    // Paid at the provider even when our settlement refuses what it says (its amount): the
    // capture is the truth of the payment, the verdict our judgement of it.
    if (q.state == S::kPaid) return found(SettleOnAnswer(c, p, ev, q, "completed", row_id), "COMPLETED");
    if (q.state == S::kFailed || q.state == S::kClosed) {
        store::FailSlip(c, slip.id, "provider: " + q.message);
        return found(Confirmed({"ignored", "completion refused: " + q.message, A::kAccepted}),
                     q.state == S::kFailed ? "FAILED" : "CLOSED");
    }
    if (q.state == S::kPaying)
        return found(Confirmed({"ignored", "completion pending: " + q.message, A::kAccepted}), "PENDING");
    // The provider's plain word that the buyer has not approved (PayPal's 422 ORDER_NOT_APPROVED):
    // nothing is unknown, and nothing for a resend or `inbox replay` to capture again. A return
    // before approval, or a forged approval, ends here (review s27-attack #3).
    if (q.state == S::kNotPaid)
        return found(Confirmed({"ignored", "not completed: the buyer has not approved it (" + q.message + ")",
                                A::kAccepted}),
                     "NOT_APPROVED");
    return found({"error", "completion outcome unknown: " + q.message, A::kError}, "UNKNOWN");
}

// A buyer's return that asks for nothing (PayPal's cancel) reports the slip as it is now, read
// again (an approval's return for it may have just captured it): a buyer who paid in another tab,
// or anyone holding the cancel URL of a paid slip, was told CANCELLED (review s28b-attack #3).
// The words are Complete's: COMPLETED for a paid slip, CLOSED for one that takes no more money,
// and the return's own CANCELLED only for a slip still open. It changes nothing either way.
NotifyDecision ReturnWithoutApproval(db::Connection& c, const NotifyEval& ev) {
    using A = providers::NotifyAnswer;
    NotifyDecision d{"ignored", "never settles: " + ev.reason, A::kAccepted};
    std::optional<store::SlipRow> now = store::FindSlip(c, ev.slip->id);
    if (now && now->st == domain::SlipState::kOk) {
        d.reason += " (slip already paid)";
        d.found_status = "COMPLETED";
    } else if (!now || !now->Open() || now->superseded ||
               !store::OrderPayableNow(c, now->order_id, now->id)) {
        d.reason += " (slip " + ev.slip->id + " takes no more money)";
        d.found_status = "CLOSED";
    } else {
        d.found_status = ev.event.status;
    }
    return d;
}

// A signed "paid" from a provider whose signature does not bind the whole message
// (SettlesOnOwnQuery): settled on our query's capture, amount and currency. A message the
// provider's own records do not bear out is refused, so a genuine one that ran ahead of them
// is sent again; one we could not check is answered kError, and sent again too.
NotifyDecision Confirm(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                       const std::string& row_id) {
    using A = providers::NotifyAnswer;
    const store::SlipRow& slip = *ev.slip;
    // Its own capture told again: nothing to ask.
    if (slip.st == domain::SlipState::kOk && slip.provider_txn_id == ev.event.txn_id)
        return {"duplicate", "slip already paid by " + ev.event.txn_id, A::kAccepted};
    // Another capture of a paid slip, while the provider's order was asked about the slip a moment
    // ago: a PayPal order takes one capture, and that answer showed the one it has, so there is
    // nothing a resend could record (unlike a paced approval or reversal, not answered as an error
    // to be sent again). Counted as paced; nothing asked, it goes with the unverified rows.
    if (slip.st == domain::SlipState::kOk && !ClaimQuery(c, slip)) {
        NotifyDecision d{"duplicate",
                         "slip already paid by " + slip.provider_txn_id.value_or("") + " (notified capture " +
                             ev.event.txn_id + "; the provider's order was asked less than " +
                             std::to_string(kAskPaceS) + " s ago)",
                         A::kAccepted};
        d.paced = true;
        return d;
    }
    providers::QueryResult q = providers::MeteredConfirmPaid(p, *ev.merchant, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    // A slip paid with the capture the provider's order still shows, notified with another: the
    // answer bears out nothing the settled row does not hold, and not what the message claims.
    // A twin of any genuine transmission, naming a made-up capture, makes it: the decision rests
    // on our row (unconfirmed: MarkForRetention), never kept for good as a duplicate "confirmed
    // by query" was.
    if (q.state == S::kPaid && slip.st == domain::SlipState::kOk && slip.provider_txn_id == q.txn_id)
        return {"duplicate",
                "slip already paid by " + q.txn_id + ", as the provider's order says (notified capture " +
                    ev.event.txn_id + ")",
                A::kAccepted};
    if (q.state == S::kPaid) {
        const std::string what = q.txn_id == ev.event.txn_id ? "confirmed by query"
                                                             : "confirmed by query (capture " + q.txn_id +
                                                                   ", notified " + ev.event.txn_id + ")";
        return SettleOnAnswer(c, p, ev, q, what, row_id);
    }
    if (q.state == S::kUnknown)
        return {"error", "notified paid; the query to confirm it failed: " + q.message, A::kError};
    // The provider's record says the payment failed for good (declined, reversed, refunded whole):
    // nothing a resend could change, so acknowledged, and an open slip fails as pay/check's
    // query would fail it.
    if (q.state == S::kFailed || q.state == S::kClosed) {
        const bool failed = slip.Open() && store::FailSlip(c, slip.id, "provider: " + q.message);
        return Confirmed(
            {"ignored",
             "notified paid, but the provider's order says: " + q.message + (failed ? " (slip failed)" : ""),
             A::kAccepted});
    }
    return Confirmed({"rejected", "notified paid, but the provider's order says: " + q.message, A::kRefused});
}

// A signed "denied" from such a provider: the slip fails only when the provider's own record
// of the payment says it failed or closed, never on a message anyone holding one genuine
// transmission can rewrite; a payment it says went through settles as any query's would.
NotifyDecision ConfirmClosed(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                             const std::string& row_id) {
    using A = providers::NotifyAnswer;
    const store::SlipRow& slip = *ev.slip;
    // Nothing asked, nothing done: a twin of any genuine transmission says as much, and the slip's
    // own record (its settled row, its failure) is what counts, so the row goes with the
    // unverified ones (unconfirmed: MarkForRetention; review s28-diff #2).
    if (!slip.Open()) return {"ignored", "trade closed (slip no longer open)", A::kAccepted};
    providers::QueryResult q = providers::MeteredConfirmPaid(p, *ev.merchant, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    if (q.state == S::kFailed || q.state == S::kClosed) {
        const bool failed = store::FailSlip(c, slip.id, "provider: " + q.message);
        return Confirmed({"ignored",
                          std::string(failed ? "trade closed: slip failed" : "trade closed") +
                              " (confirmed: " + q.message + ")",
                          A::kAccepted});
    }
    if (q.state == S::kPaid)
        return SettleOnAnswer(c, p, ev, q, "notified " + ev.event.status + ", but paid by query", row_id);
    if (q.state == S::kUnknown)
        return {"error", "notified " + ev.event.status + "; the query to confirm it failed: " + q.message,
                A::kError};
    return Confirmed({"rejected",
                      "notified " + ev.event.status + ", but the provider's order says: " + q.message,
                      A::kRefused});
}
}  // namespace orderpay::app

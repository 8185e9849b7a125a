// Refund-result notifications: a verified message finishes the refund it names, and from a
// provider whose signature does not bind the whole message (SettlesOnOwnQuery, PayPal) only on
// that provider's own record of the refund. A refund nobody here asked for is listed as OUTSIDE,
// once, however its tellings (a resend, an order query) interleave.
#include "orderpay/app/notify.hpp"
#include "orderpay/app/query_refunded.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/refunds.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

namespace {

// What a refund notification from a SettlesOnOwnQuery provider is recorded on: the provider's own
// record of the refund, asked by its id. A message naming some other refund, or one the provider
// does not know, is refused; one we could not check is answered kError, so it is sent again.
std::optional<NotifyDecision> ConfirmOrRefuse(const providers::Provider& p, const NotifyEval& ev,
                                              const providers::RefundParams& params,
                                              providers::RefundResult& q, bool& asked) {
    using A = providers::NotifyAnswer;
    const std::string named = params.provider_refund_id.empty() ? "(none)" : params.provider_refund_id;
    asked = true;
    try {
        q = providers::MeteredConfirmRefund(p, *ev.merchant, params);
    } catch (const std::exception& e) {
        q = providers::RefundResult{};
        q.message = std::string("error: ") + e.what();
    }
    if (q.not_this_refund)
        return NotifyDecision{"rejected", "notified refund " + named + ", not borne out: " + q.message,
                              A::kRefused};
    if (q.state == providers::RefundResult::State::kUnknown)
        return NotifyDecision{"error",
                              "notified refund " + named + "; the query to confirm it failed: " + q.message,
                              A::kError};
    return std::nullopt;
}

// A refund nobody here asked for that an OUTSIDE report of the slip already names (our order
// query's record beside the payment it settled, app/query_refunded.cpp, or this refund's earlier
// notification): told again, it tells nothing new, and a second report of the same money is not
// written. From a provider whose word is only a cue it is asked nothing (a twin naming a reported
// refund changes nothing either way), so it goes with the unconfirmed rows (review s30-diff L2).
// Found by the merchant's refund number first where the provider keeps it unique
// (Provider::RefundNamesUnique).
std::optional<NotifyDecision> ReportedBefore(db::Connection& c, const providers::Provider& p,
                                             const NotifyEval& ev, const std::string& ours,
                                             const std::string& providers) {
    if (!ev.slip) return std::nullopt;
    if (std::optional<std::string> row =
            RefundReportedBefore(c, ev.slip->id, ours, providers, p.RefundNamesUnique()))
        return NotifyDecision{"duplicate",
                              "refund " + ReportNames(ours, providers) +
                                  " orderpay did not make, already reported (inbox row " + *row + ")",
                              providers::NotifyAnswer::kAccepted};
    return std::nullopt;
}

// The names of the refund an OUTSIDE report is about: the merchant's and the provider's. `back`
// is what the provider's own record of it says went back (minor units, 0: none to record), asked
// only for a held slip (HeldPayment); `said` is that record's word.
struct ReportNamed {
    std::string ours, providers;
    std::int64_t back = 0;
    std::string said;
    // The record could not be read now (no answer, a 5xx, an answer we could not verify): the
    // message is answered as a temporary failure, so it is sent again (and `inbox replay`).
    bool ask_again = false;
};

// A payment its order does not count (a late or second payment, refund_needed): the buyer is owed
// all of it, and nothing of the order's own money is in it.
bool HeldPayment(const store::SlipRow& s) {
    return s.refund_needed && s.st == domain::SlipState::kOk;
}

// A refund made outside orderpay of a held payment is the return the back office owes: recorded
// as the slip's refund (WriteReport), it takes the slip off the list of money owed, and
// `refund --slip` no longer offers money the provider no longer holds. Recorded only on the
// provider's own record, asked by the refund's name as reconcile asks about ours (a notification
// is a message; its record is what moved), and only for what that record says went back, in
// full (OK): PROCESSING, unknown or another amount than the message's records nothing, and the
// report stands as for any payment. From a provider whose word is only a cue (PayPal) the record
// was asked already (ConfirmOrRefuse): `q` is it.
void AskHeld(const providers::Provider& p, const NotifyEval& ev, ReportNamed& n,
             const std::optional<providers::RefundResult>& asked) {
    if (!ev.slip || !ev.merchant || !HeldPayment(*ev.slip)) return;
    providers::RefundResult q;
    if (asked) {
        q = *asked;
    } else {
        if (n.ours.empty()) {
            n.said = "the provider's record not asked: the refund has no merchant number";
            return;
        }
        providers::RefundParams params;
        params.refund_id = n.ours;
        params.slip_id = ev.slip->id;
        params.txn_id = ev.slip->provider_txn_id.value_or("");
        params.provider_ref = ev.slip->provider_ref;
        params.currency = ev.slip->currency;
        params.paid_amount = ev.slip->amount;
        params.provider_refund_id = n.providers;
        params.read_only = true;  // a look: this refund is not ours to send
        try {
            // The provider object is the context's; Provider's const marks what deciding may not
            // change, and QueryRefund is only a read (read_only).
            q = providers::MeteredQueryRefund(const_cast<providers::Provider&>(p), *ev.merchant, params);
        } catch (const std::exception& e) {
            q = providers::RefundResult{};
            q.message = std::string("error: ") + e.what();
        }
    }
    const providers::PaidEvent::Refund& rf = *ev.event.refund;
    if (q.state != providers::RefundResult::State::kOk || q.amount <= 0) {
        n.said = "the provider's record says " + (q.message.empty() ? std::string("nothing") : q.message);
        // Unread, not denied: a report written now would make every resend its duplicate, and the
        // held money would never be recorded (a provider's "no such refund" is an answer, as is a
        // refund in a state we do not know).
        n.ask_again =
            !asked && q.state == providers::RefundResult::State::kUnknown && !q.not_known && !q.disputed;
        return;
    }
    if (!asked && rf.amount > 0 && rf.amount != q.amount) {
        n.said = "the provider's record says " + std::to_string(q.amount) + ", the message " +
                 std::to_string(rf.amount);
        return;
    }
    n.back = q.amount;
    n.said = q.message;
}

// DecideRefundNotice's judgement; `asked` says whether the provider was asked about the refund,
// `report` the refund's names when the decision is an OUTSIDE report of it.
NotifyDecision Judge(db::Connection& c, const providers::Provider& p, const NotifyEval& ev, bool& asked,
                     std::optional<ReportNamed>& report) {
    using A = providers::NotifyAnswer;
    using S = providers::RefundResult::State;
    const providers::PaidEvent::Refund& rf = *ev.event.refund;
    std::optional<store::RefundRow> r =
        rf.refund_id.empty() ? std::nullopt : store::FindRefund(c, rf.refund_id);
    if (!r && !rf.provider_refund_id.empty())
        r = store::FindRefundByProviderId(c, ev.slip ? ev.slip->provider : "", rf.provider_refund_id);
    const bool confirm = p.SettlesOnOwnQuery();
    // What the message claims, for the inbox (a provider's status may be its event type).
    const std::string claimed = ev.event.status + (rf.ok ? " (OK)" : rf.failed ? " (FAIL)" : "");
    providers::RefundResult q;  // the provider's own record of the refund, once asked
    bool confirmed = false;
    // A refund made outside orderpay (the provider's console) is the merchant's business: kept
    // in the inbox and acknowledged, so the provider stops sending it. reconcile lists it
    // (OUTSIDE) for a week, so from a provider whose word is only a cue it must be a refund the
    // provider really made of this slip, described as its record has it.
    if (!r) {
        std::optional<NotifyDecision> before = ReportedBefore(c, p, ev, rf.refund_id, rf.provider_refund_id);
        // Its names escaped (ReportName): a free-text name could otherwise write the words of a
        // chargeback report (review s30b F1), or not read back as itself (F2).
        if (!confirm || !ev.slip) {
            // A held payment's refund reported before is still asked about: the report may be an
            // order query's, which settled the late payment and recorded no money (its payment's
            // notification lost, the refund made meanwhile), or one whose record could not be
            // recorded then. The refund's key (HeldRefundKey) records it once however often told.
            if (before && !(ev.slip && HeldPayment(*ev.slip))) return *before;
            report = ReportNamed{rf.refund_id, rf.provider_refund_id};
            AskHeld(p, ev, *report, std::nullopt);
            if (report->ask_again) {
                const std::string said = report->said;
                report.reset();
                return {
                    "error",
                    "refund " + ReportNames(rf.refund_id, rf.provider_refund_id) +
                        " orderpay did not make, of a held payment; the query to confirm it failed: " + said,
                    A::kError};
            }
            if (before) return *before;
            return {"ignored", "no refund of ours named " + ReportNames(rf.refund_id, rf.provider_refund_id),
                    A::kAccepted};
        }
        if (before) return *before;
        providers::RefundParams params;
        params.slip_id = ev.slip->id;
        params.txn_id = ev.slip->provider_txn_id.value_or("");
        params.currency = ev.slip->currency;
        params.provider_refund_id = rf.provider_refund_id;
        if (std::optional<NotifyDecision> d = ConfirmOrRefuse(p, ev, params, q, asked)) return *d;
        // The provider's record may name a refund of ours the message left out (one whose answer
        // never reached us): that refund, not an outside one (review s22 M1).
        r = q.refund_no.empty() ? std::nullopt : store::FindRefund(c, q.refund_no);
        if (!r || r->slip_id != ev.slip->id) {
            const std::string their_id =
                q.provider_refund_id.empty() ? rf.provider_refund_id : q.provider_refund_id;
            if (q.state == S::kFailed)
                return {"ignored", "a refund orderpay did not make, failed at the provider: " + q.message,
                        A::kAccepted};
            if (std::optional<NotifyDecision> d = ReportedBefore(c, p, ev, q.refund_no, their_id)) return *d;
            report = ReportNamed{q.refund_no, their_id};
            AskHeld(p, ev, *report, q);
            return {"ignored",
                    "no refund of ours named " + ReportNames(q.refund_no, their_id) + ": the provider's " +
                        q.message,
                    A::kAccepted};
        }
        confirmed = true;
    }
    if (!ev.slip || r->slip_id != ev.slip->id)
        return {"rejected",
                "refund " + r->id + " is of slip " + r->slip_id + ", notified for " + ev.event.slip_id,
                A::kRefused};
    if (!confirmed) {
        if (rf.amount_unreadable)
            return {"rejected", "refund amount unreadable in the notification of refund " + r->id,
                    A::kRefused};
        // 100 JPY is not 1.00 USD, though both are 100 in minor units.
        if (!rf.currency.empty() && rf.currency != r->currency)
            return {"rejected",
                    "refund currency " + rf.currency + " notified, refund " + r->id + " is " + r->currency,
                    A::kRefused};
        // The payment it says was refunded is the one the refund was asked of (what we sent as
        // WeChat's total_fee / amount.total), or the message is about another trade.
        if (rf.paid_total != 0 && rf.paid_total != r->paid_amount)
            return {"rejected",
                    "refund of a payment of " + std::to_string(rf.paid_total) + " notified, refund " + r->id +
                        " is of one of " + std::to_string(r->paid_amount),
                    A::kRefused};
        if (rf.refunded_total != 0 && (rf.refunded_total < r->amount || rf.refunded_total > r->paid_amount))
            return {"rejected",
                    (rf.refunded_total < 0 ? std::string("no readable total refunded")
                                           : std::to_string(rf.refunded_total) + " refunded in all") +
                        " notified, refund " + r->id + " is " + std::to_string(r->amount) +
                        " of a payment of " + std::to_string(r->paid_amount),
                    A::kRefused};
        if (rf.amount != 0 && rf.amount != r->amount)
            return {"rejected",
                    "refund amount " + std::to_string(rf.amount) + " notified, refund " + r->id + " is " +
                        std::to_string(r->amount),
                    A::kRefused};
    }
    if (confirm && !confirmed) {
        // Finished already, and told so again (or told nothing final): nothing to ask about. Only
        // a word against the one recorded is worth the provider's time (review s22 M3).
        const bool final_row = r->st == domain::RefundState::kOk || r->st == domain::RefundState::kFail;
        const bool against = (r->st == domain::RefundState::kOk && rf.failed) ||
                             (r->st == domain::RefundState::kFail && rf.ok);
        // The message names another of the provider's refunds than the one ours became: perhaps a
        // second refund of the same money under our refund id, which only this message tells of.
        const bool other_id = !r->provider_refund_id.empty() && !rf.provider_refund_id.empty() &&
                              rf.provider_refund_id != r->provider_refund_id;
        if (final_row && !against && !other_id)
            return {"duplicate", "refund " + r->id + " already " + std::string(domain::ToString(r->st)),
                    A::kAccepted};
        // Asked by the id the refund already has, when an answer gave it one.
        providers::RefundParams params = ParamsOf(*r);
        if (params.provider_refund_id.empty() || other_id) params.provider_refund_id = rf.provider_refund_id;
        if (std::optional<NotifyDecision> d = ConfirmOrRefuse(p, ev, params, q, asked)) return *d;
        if (other_id) {
            // The provider confirms it: a refund under our id that is not the one we recorded.
            if (q.state == S::kFailed)
                return {"ignored",
                        "refund " + r->id + ": another refund " + rf.provider_refund_id +
                            " under it failed: " + q.message,
                        A::kAccepted};
            log::Error("refund ", r->id, ": the provider made another refund ", rf.provider_refund_id,
                       " under it (recorded ", r->provider_refund_id, "): ", q.message);
            return {"ignored",
                    "conflict: refund " + r->id + ": the provider made another refund under it (recorded " +
                        r->provider_refund_id + "): " + q.message,
                    A::kAccepted};
        }
        confirmed = true;
    }
    bool ok = rf.ok, failed = rf.failed, stuck = rf.stuck;
    std::string provider_refund_id = rf.provider_refund_id, status = ev.event.status, said = "notified";
    if (confirmed) {
        if (q.state == S::kProcessing) {
            // Still pending at the provider: its id and word noted, as an answer's would be.
            store::NoteRefund(c, r->id, (q.stuck ? kStuckNote : std::string("pending: ")) + q.message,
                              q.provider_refund_id);
            // A final word its record does not bear out yet is refused, so a genuine one that ran
            // ahead of it is sent again (reconcile asks about a PROCESSING refund anyway).
            if (rf.ok || rf.failed)
                return {"rejected",
                        "refund " + r->id + " notified " + claimed +
                            ", but the provider's refund says: " + q.message,
                        A::kRefused};
        }
        if (q.state == S::kOk && q.amount != r->amount) {
            const std::string note = "provider's refund says " + q.message + " of " +
                                     std::to_string(q.amount) + ", ours " + std::to_string(r->amount);
            log::Error("refund ", r->id, ": ", note);
            store::NoteRefund(c, r->id, note, q.provider_refund_id);
            return {"ignored", "refund " + r->id + ": " + note, A::kAccepted};
        }
        ok = q.state == S::kOk;
        failed = q.state == S::kFailed;
        stuck = q.stuck;
        provider_refund_id = q.provider_refund_id.empty() ? rf.provider_refund_id : q.provider_refund_id;
        status = q.message + " (notified " + claimed + ")";
        said = "confirmed";
    }
    if (stuck) {
        const std::string note = kStuckNote + status;
        log::Error("refund ", r->id, ": ", note);
        store::NoteRefund(c, r->id, note, provider_refund_id);  // only while NEW or PROCESSING
        return {"ignored", "refund " + r->id + ": " + note, A::kAccepted};
    }
    if (!ok && !failed) return {"ignored", "refund " + r->id + " not final: " + status, A::kAccepted};
    // A request about the refund is on its way (its talk lock is held: a sender between its claim
    // and its answer, reconcile asking, the operator's look): its answer is recorded first, and
    // this word, sent again, is judged against it. Finished first, an answer that contradicted it
    // was only logged, never listed, the amount free (or taken) on the message's word alone.
    // Looked at, not taken: the message's own copies at once must not hold each other off.
    if ((r->st == domain::RefundState::kNew || r->st == domain::RefundState::kProcessing) &&
        store::RefundTalkBusy(c, r->id))
        return {"error",
                "refund " + r->id + " notified " + (ok ? "OK" : "FAIL") +
                    " while a request about it is on its way: to be told again once it is answered",
                A::kError};
    store::FinishResult f = store::FinishRefund(c, r->id, ok, provider_refund_id, said + ": " + status);
    const std::string word = ok ? "OK" : "FAIL";
    if (f.outcome == "finished")
        return {"settled",
                "refund " + r->id + " -> " + word + (confirmed ? " (" + said + ": " + status + ")" : "") +
                    (f.order_st ? " (order " + std::string(domain::ToString(*f.order_st)) + ")" : ""),
                A::kAccepted};
    if (f.outcome == "duplicate") return {"duplicate", "refund " + r->id + " already " + word, A::kAccepted};
    // The provider's word contradicts what we recorded: kept for an operator, not fought over.
    log::Error("refund ", r->id, ": ", said, " ", word, " but recorded ", domain::ToString(r->st));
    return {"ignored", "conflict: refund " + r->id + " " + said + " " + word + ", recorded otherwise",
            A::kAccepted};
}

// The idempotency key a held slip's refund made outside orderpay is recorded under: the slip and
// the refund's own name (the merchant's number where the provider keeps it unique, else the
// provider's id), so every telling of it (its notification, a resend, a second server's copy)
// records it at most once, whichever comes first. Escaped (ReportName): printable, no blank.
std::string HeldRefundKey(const providers::Provider& p, const std::string& slip, const ReportNamed& n) {
    const std::string name = ReportName(p.RefundNamesUnique() && !n.ours.empty() ? n.ours : n.providers);
    const std::string key = "outside:" + slip + ":" + name;
    return key.size() <= 128 ? key : "outside:" + slip + ":sha256:" + crypto::HexLower(crypto::Sha256(name));
}

// Records what the provider's record says went back of held slip `slip` as its refund (OK,
// requested_by provider), inside the caller's transaction under the slip's lock; the words for the
// report. Only if it fits beside the slip's refunds that are not FAIL (orderpay_refund_open). When
// it does not because one of ours is in flight for that money (written and never sent, say: the
// provider refuses it once it holds nothing), `wait` is set: the message is to be told again once
// that refund ends, not reported now, or every later telling would be the report's duplicate.
std::string RecordHeld(db::Connection& c, const providers::Provider& p, const store::SlipRow& slip,
                       const ReportNamed& n, bool& wait) {
    store::RefundRequest req;
    req.slip = slip.id;
    req.amount = n.back;
    req.reason = "given back at the provider, outside orderpay";
    req.requested_by = "provider";
    req.idempotency_key = HeldRefundKey(p, slip.id, n);
    store::OpenResult o = store::OpenRefund(c, req);
    const std::string names = ReportNames(n.ours, n.providers);
    if (o.outcome == store::OpenOutcome::kExisting) return "recorded before as refund " + o.refund_id;
    if (o.outcome == store::OpenOutcome::kTooMuch && store::SlipRefundInFlight(c, slip.id)) wait = true;
    if (o.outcome != store::OpenOutcome::kCreated) return "not recorded: " + o.detail;
    store::FinishRefund(c, o.refund_id, true, n.providers,
                        "held payment given back at the provider, refund " + names + ": " + n.said);
    log::Info("slip ", slip.id, " (order ", slip.order_id, "): held payment given back at the provider (",
              names, "): recorded as refund ", o.refund_id);
    return "recorded as refund " + o.refund_id;
}

// Writes the OUTSIDE report `d` of the refund named `n` on row `row_id` under the slip's row lock,
// after one more look for a report of it: a query settling the slip takes the lock first
// (store::SettleAndDecide writes its record under it), and so does this refund's other telling (a
// resend, a second server's copy), so two at once make one report, and the later its duplicate.
// Judge's look before spares a resend the lock. A held slip's refund the provider's record bore
// out (n.back) is recorded in the same transaction, its duplicate's too (RecordHeld: once, by key).
void WriteReport(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                 const std::string& row_id, const ReportNamed& n, NotifyDecision& d) {
    db::Tx tx(c);
    std::optional<store::SlipRow> slip = store::FindSlip(c, ev.slip->id, true);
    if (std::optional<NotifyDecision> dup = ReportedBefore(c, p, ev, n.ours, n.providers)) {
        dup->confirmed = d.confirmed;
        d = *dup;
    }
    // After the names and ": " (their end for RefundReported), so a resend still finds the report.
    if (slip && HeldPayment(*slip) && n.back > 0) {
        bool wait = false;
        const std::string recorded = RecordHeld(c, p, *slip, n, wait);
        if (wait) {
            // Nothing written (rolled back): the row is decided `error` and told again.
            d = {"error",
                 "refund " + ReportNames(n.ours, n.providers) +
                     " orderpay did not make, of a held payment, waits for a refund of ours in flight: " +
                     recorded,
                 providers::NotifyAnswer::kError};
            return;
        }
        d.reason += ": a held payment, " + recorded;
    } else if (slip && HeldPayment(*slip) && !n.said.empty())
        d.reason += ": a held payment, not recorded: " + n.said;
    MarkForRetention(ev, p.SettlesOnOwnQuery(), d);
    d.recorded = store::NotificationVerdict(c, row_id, d.verdict, d.reason, ev.slip->id);
    d.written = true;
    tx.Commit();
}

}  // namespace

// From a provider whose word is only a cue, a refund finished already and told so again is
// acknowledged without asking (review s22 M3): a CRC32 twin makes any number of such rows, and the
// refund's own row is its record, so the row goes with the unverified ones (unconfirmed:
// MarkForRetention). What the provider's record of the refund bore out (an outside refund, a
// conflict, a finish) is confirmed and kept.
NotifyDecision DecideRefundNotice(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                                  const std::string& row_id) {
    bool asked = false;
    std::optional<ReportNamed> report;
    NotifyDecision d = Judge(c, p, ev, asked, report);
    d.confirmed = asked;
    if (report && ev.slip && !row_id.empty()) WriteReport(c, p, ev, row_id, *report, d);
    return d;
}

}  // namespace orderpay::app

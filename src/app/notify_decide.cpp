// What a judged notification decides (PROTOCOLS.md §0's last steps): the verdict from the
// signature, the slip and the trade status, and the retention marks the inbox prunes by
// (unverified:, return:, unconfirmed:). Settling, confirming and refund results are their own
// files (app/notify_confirm, app/notify_reversal, app/refund_notice).
#include "orderpay/app/notify.hpp"
#include "orderpay/app/notify_confirm.hpp"
#include "orderpay/app/notify_reversal.hpp"
#include "orderpay/app/refund.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

namespace {

NotifyDecision DecideMessage(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                             const std::string& row_id) {
    using A = providers::NotifyAnswer;
    // A message never verified (unreadable, or its signature not ours) says so first: the inbox's
    // retention drops these after notify.keep_rejected_days (UNVERIFIED_RE, src/store/sql_text.hpp),
    // and keeps a signed one refused on its content (no slip, another app_id, a reused transaction)
    // as long as settled rows: it may be the only record that money arrived (review s26-diff #3).
    const std::string unverified = "unverified: ";
    if (!ev.notice.parsed) return {"rejected", unverified + ev.reason, A::kMalformed};
    // A signature that could not be checked is no forgery: "error" is what the provider's resend
    // and `inbox replay` judge again, and what monitoring counts. It is never acted on.
    if (ev.signature_unchecked) return {"error", ev.reason, A::kError};
    // A provider that sends every event of the account to us (PayPal) also sends other
    // integrations' events: verified, but about no slip of ours. Acknowledged, not acted on (and,
    // when the signature does not bind the message, unconfirmed: MarkForRetention): PayPal's CRC32
    // lets one genuine transmission make any number of twins naming made-up orders, which
    // notify.keep_days' default kept for good.
    if (ev.signature_ok && !ev.slip && ev.notice.may_settle && p.AcknowledgesForeignEvents())
        return {"ignored", "verified, but names no slip of ours: " + ev.reason, A::kAccepted};
    if (!ev.signature_ok) return {"rejected", unverified + ev.reason, A::kRefused};
    // A provider whose signature does not bind the message (PayPal signs a CRC32 of it) vouches for
    // none of what it claims: anyone holding one genuine transmission can write a twin naming any
    // slip, amount or currency. Refused on those claims, it is no report of money (a MISMATCH kept
    // for good, review s27-attack #1): the provider's own record, asked by reconcile and pay/check,
    // is what settles and what a mismatch is found in.
    if (!ev.business_ok)
        return {"rejected", (p.SettlesOnOwnQuery() ? unverified : "") + ev.reason, A::kRefused};
    // A redelivered webhook event that was acted on once changes nothing. Not from a provider
    // whose word is only a cue: its event id is in the part anyone can rewrite, so a forged copy
    // could make the provider's own resend a "duplicate" (review s22 M2); every step on its
    // word is idempotent and asks before acting.
    if (!p.SettlesOnOwnQuery() && !ev.event.event_id.empty() && !row_id.empty() &&
        store::EventSeenBefore(c, std::string(p.Id()), row_id, ev.event.event_id))
        return {"duplicate", "event " + ev.event.event_id + " was handled before", A::kAccepted};
    // A refund's result finishes the refund it names; it never settles anything.
    if (ev.event.refund) {
        NotifyDecision d = DecideRefundNotice(c, p, ev, row_id);
        // From a provider whose word is only a cue (PayPal: a CRC32 twin of any genuine message
        // verifies), a refund message refused on what it claims, its own record not bearing it
        // out, is a stranger's as likely as the provider's: it goes with the unverified rows, and
        // its quoted refund id is never a report (review s28b-attack #1). (One acknowledged
        // without asking, a finished refund told again, is unconfirmed: MarkForRetention.)
        if (p.SettlesOnOwnQuery() && d.verdict == "rejected" && !d.written) d.reason = unverified + d.reason;
        return d;
    }
    // A payment taken back (PayPal's chargeback) is recorded only on the provider's own record.
    if (ev.event.reversed && p.SettlesOnOwnQuery()) return ConfirmReversal(c, p, ev);
    // An approval (PayPal) is completed by us at the provider, and only its answer settles.
    if (ev.event.approved && !ev.event.paid) return Complete(c, p, ev, row_id);
    // A browser return is a redirect anyone can forge or replay: it proves, it never settles.
    if (!ev.notice.may_settle) {
        if (p.SettlesOnOwnQuery()) return ReturnWithoutApproval(c, ev);
        return {"ignored", "never settles: " + ev.reason, A::kAccepted};
    }
    if (ev.event.paid && p.SettlesOnOwnQuery()) return Confirm(c, p, ev, row_id);
    if (ev.event.paid) {
        // The verdict and its reason come from the settlement itself (migration 010), which
        // writes them on the row in the same transaction.
        store::SettleResult r = store::SettleAndDecide(c, std::string(p.Id()), ev.event, row_id);
        return {r.verdict, r.reason, r.verdict == "rejected" ? A::kRefused : A::kAccepted, !row_id.empty(),
                r.decided};
    }
    // A signed "closed" ends an unpaid slip; other statuses change nothing. Both are
    // acknowledged so the provider stops repeating them.
    if (ev.event.closed && p.SettlesOnOwnQuery()) return ConfirmClosed(c, p, ev, row_id);
    if (ev.event.closed) {
        bool failed = store::FailSlip(c, ev.slip->id, "provider: " + ev.event.status);
        return {"ignored", failed ? "trade closed: slip failed" : "trade closed", A::kAccepted};
    }
    // From a provider whose word is only a cue (PayPal), asked nothing: a twin of any genuine
    // transmission says as much (unconfirmed: MarkForRetention; review s29-diff L1).
    return {"ignored", "not paid: " + ev.event.status, A::kAccepted};
}

}  // namespace

void MarkForRetention(const NotifyEval& ev, bool cue, NotifyDecision& d) {
    if (!ev.notice.parsed || d.written) return;
    const std::string_view reason = d.reason;
    if (reason.starts_with("unverified: ") || reason.starts_with("unconfirmed: ")) return;
    // A browser's return is sent by whoever holds its URL, as often as they like: whatever came of
    // it but a settlement (written with its verdict, where a provider's answer may be a report)
    // goes with the inbox's unverified rows (RETURN_RE; review s27-attack #2). A return the
    // provider signed and that is refused on its content (Alipay's, naming another amount) is kept
    // as any signed refusal is: it may be the only record of that payment, and replaying a
    // genuine one never fails a check (review s27-diff M1).
    if (!ev.notice.may_settle) {
        if (d.verdict != "rejected") d.reason = "return: " + d.reason;
        return;
    }
    // A webhook from a provider whose word is only a cue, acknowledged on its own word and our
    // rows, nothing of it confirmed by the provider (a slip already paid or no longer open, one
    // paid with the capture its order still shows, a capture that is no payment, an event naming
    // no slip of ours, a refund already finished): a CRC32 twin of any
    // genuine transmission makes it as well as the provider's resend, and neither proves anything
    // the slip's or refund's own record does not. It goes with the unverified rows (UNCONFIRMED_RE;
    // review s28-diff #2, s29-diff L1). What the provider's answer bore out (a settlement, a
    // chargeback, a refund made outside orderpay, a conflict) is confirmed, and kept; a refusal
    // is `unverified: ` or a signed one's, and an error is judged again.
    if (cue && !d.confirmed && (d.verdict == "duplicate" || d.verdict == "ignored"))
        d.reason = "unconfirmed: " + d.reason;
}

NotifyDecision Decide(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                      const std::string& row_id) {
    NotifyDecision d = DecideMessage(c, p, ev, row_id);
    MarkForRetention(ev, p.SettlesOnOwnQuery(), d);
    return d;
}

}  // namespace orderpay::app

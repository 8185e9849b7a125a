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
    // integrations' events: verified, but about no slip of ours. Acknowledged, not acted on, and
    // kept only as long as unverified rows when the signature does not bind the message (PayPal's
    // CRC32: one genuine transmission makes any number of twins naming made-up orders, which
    // notify.keep_days' default kept for good).
    if (ev.signature_ok && !ev.slip && ev.notice.may_settle && p.AcknowledgesForeignEvents())
        return {"ignored",
                (p.SettlesOnOwnQuery() ? "unconfirmed: " : "") +
                    std::string("verified, but names no slip of ours: ") + ev.reason,
                A::kAccepted};
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
        NotifyDecision d = DecideRefundNotice(c, p, ev);
        // From a provider whose word is only a cue (PayPal: a CRC32 twin of any genuine message
        // verifies), a refund message refused on what it claims, its own record not bearing it
        // out, is a stranger's as likely as the provider's: it goes with the unverified rows, and
        // its quoted refund id is never a report (review s28b-attack #1).
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
    // transmission says as much, so it goes with the unverified rows (review s29-diff L1).
    return {"ignored", (p.SettlesOnOwnQuery() ? "unconfirmed: not paid: " : "not paid: ") + ev.event.status,
            A::kAccepted};
}

}  // namespace

NotifyDecision Decide(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                      const std::string& row_id) {
    NotifyDecision d = DecideMessage(c, p, ev, row_id);
    // A browser's return is sent by whoever holds its URL, as often as they like: whatever came of
    // it but a settlement (written with its verdict, where a provider's answer may be a report) goes
    // with the inbox's unverified rows (RETURN_RE, src/store/sql_text.hpp; review s27-attack #2).
    const std::string_view reason = d.reason;
    // A return the provider signed and that is refused on its content (Alipay's, naming another
    // amount) is kept as any signed refusal is: it may be the only record of that payment, and
    // replaying a genuine one never fails a check (review s27-diff M1).
    if (ev.notice.parsed && !ev.notice.may_settle && !d.written && d.verdict != "rejected" &&
        reason.substr(0, 12) != "unverified: ")
        d.reason = "return: " + d.reason;
    // A webhook from a provider whose word is only a cue, about a slip already paid, that asked the
    // provider nothing (a settlement after a capture or query writes its own verdict): a CRC32 twin
    // of any genuine transmission makes it as well as PayPal's resend, and neither proves anything
    // the settled row does not. It goes with the unverified rows (UNCONFIRMED_RE,
    // src/store/sql_text.hpp), not kept as long as settled ones (review s28-diff #2). A refund's
    // duplicate is its own matter (app/refund_notice).
    if (ev.notice.parsed && ev.notice.may_settle && p.SettlesOnOwnQuery() && !d.written &&
        d.verdict == "duplicate" && !ev.event.refund)
        d.reason = "unconfirmed: " + d.reason;
    return d;
}

}  // namespace orderpay::app

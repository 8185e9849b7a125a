// The refund flow. No transaction is open across a provider call: the NEW row is committed by
// orderpay_refund_open, the claim by its own statement, and the answer by another; an answer that
// never came leaves the refund PROCESSING for reconcile, never FAIL (money may have moved).
#include "orderpay/app/refund.hpp"

#include "orderpay/app/refund_checks.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

providers::RefundParams ParamsOf(const store::RefundRow& r) {
    providers::RefundParams p;
    p.refund_id = r.id;
    p.slip_id = r.slip_id;
    p.txn_id = r.txn_id;
    p.provider_ref = r.provider_ref;
    p.amount = r.amount;
    p.paid_amount = r.paid_amount;
    p.currency = r.currency;
    p.reason = r.reason;
    p.provider_refund_id = r.provider_refund_id;
    p.sent_before = r.st == domain::RefundState::kProcessing;
    return p;
}

const std::string kStuckNote =
    "stuck at the provider, needs the operator (the money left the merchant's account but the buyer's "
    "account refused it; redirect it at the provider, then reconcile finds it): ";

namespace {

const std::string kHeldNote = "held, not sent: its payment's provider contradicts a recorded refund (";
// A refund asked for before its payment's chargeback was recorded, and not sent yet when it was.
const std::string kChargebackNote =
    "not sent: its provider took the payment back (a chargeback) before this refund was sent: ";
const char* const kBusyNote = "being sent, asked about or decided by another process right now";
const char* const kLostNote =
    "its talk lock was lost before the request (the database session ended): nothing sent; reconcile "
    "asks again";

// The talk lock went with its session before a request: nothing is sent, and the refund says so.
void NoteLostTalk(Context& ctx, const std::string& refund_id) {
    log::Error("refund ", refund_id, ": ", kLostNote);
    store::NoteRefund(ctx.db(), refund_id, kLostNote, "");
}

providers::RefundParams ParamsToSend(const Context& ctx, const store::RefundRow& r) {
    providers::RefundParams p = ParamsOf(r);
    p.notify_url = ctx.settings().NotifyUrl(r.site_id, r.provider);
    return p;
}

// OK/FAIL once. A result that contradicts the one recorded is not overwritten. When it is the
// provider's word (`providers`: its answer to our request or query, not our own "nothing was
// sent"), another path finished the refund while our request was on its way (a notification that
// looked at the talk lock just before we took it): a conflict, kept in the inbox as a
// notification's is, so reconcile lists it and new refunds of the payment wait for the operator.
// Only logged before: the books kept the first word, and the money it puts in doubt counted free
// (helper-120's finding 5, session 36).
// The provider's answer `ok` contradicts the result another path recorded: kept in the inbox as
// a conflict (the statement writes it only while the refund is recorded the other way).
void RecordContradiction(Context& ctx, const store::RefundRow& r, bool ok,
                         const std::string& provider_refund_id, const std::string& note) {
    const std::string said =
        "refund " + r.id + ": the provider's answer to orderpay's own request or query says " +
        (ok ? "OK" : "FAIL") +
        (provider_refund_id.empty() ? "" : " (its refund " + provider_refund_id + ")") + ": " + note;
    if (std::optional<std::string> row = store::RecordRefundContradiction(ctx.db(), r.id, ok, said))
        log::Warn("refund ", r.id, ": conflict recorded as inbox row ", *row);
}

void Finish(Context& ctx, const store::RefundRow& r, bool ok, const std::string& provider_refund_id,
            const std::string& note, bool providers = true) {
    store::FinishResult f = store::FinishRefund(ctx.db(), r.id, ok, provider_refund_id, note);
    if (f.outcome != "conflict") return;
    log::Error("refund ", r.id, ": provider now says ", ok ? "OK" : "FAIL", " (", note,
               "), recorded otherwise before", providers ? ": a conflict, for the operator" : "");
    if (providers) RecordContradiction(ctx, r, ok, provider_refund_id, note);
}

}  // namespace

RefundCheck RecordRefundAnswer(Context& ctx, const store::RefundRow& r, const providers::RefundResult& res,
                               std::string& detail) {
    using S = providers::RefundResult::State;
    detail = res.message;
    switch (res.state) {
        case S::kOk:
            if (res.amount != 0 && res.amount != r.amount) {
                detail = (res.amount < 0 ? "provider reports an amount that is not one of " + r.currency +
                                               " (another currency, or unreadable)"
                                         : "provider reports " + std::to_string(res.amount) + " refunded") +
                         ", ours " + std::to_string(r.amount) + ": " + res.message;
                log::Error("refund ", r.id, ": ", detail);
                store::NoteRefund(ctx.db(), r.id, detail, res.provider_refund_id);
                // Paid out, in whatever amount, while another path recorded the refund FAIL
                // meanwhile (a notification that looked at the talk lock just before us): the note
                // above no longer lands, and the amount counts free although money went back. A
                // conflict as an answer of the very amount is (review s36 helper-125 #1); nothing
                // is written while the refund is still NEW or PROCESSING (disputed on its row).
                RecordContradiction(ctx, r, true, res.provider_refund_id, detail);
                return RefundCheck::kDisputed;
            }
            Finish(ctx, r, true, res.provider_refund_id, res.message);
            return RefundCheck::kOk;
        case S::kFailed:
            log::Warn("refund ", r.id, " refused: ", res.message);
            Finish(ctx, r, false, res.provider_refund_id, "provider: " + res.message);
            return RefundCheck::kFailed;
        case S::kProcessing:
            if (res.stuck) {
                detail = kStuckNote + res.message;
                log::Error("refund ", r.id, ": ", detail);
                store::NoteRefund(ctx.db(), r.id, detail, res.provider_refund_id);
                return RefundCheck::kPending;
            }
            store::NoteRefund(ctx.db(), r.id, "pending: " + res.message, res.provider_refund_id);
            return RefundCheck::kPending;
        case S::kUnknown:
            break;
    }
    detail = (res.timeout ? "timeout: " : "unknown: ") + res.message;
    log::Warn("refund ", r.id, " outcome unknown: ", detail);
    store::NoteRefund(ctx.db(), r.id, detail, res.provider_refund_id);
    // Money moved in a way no answer of ours can record (a refund in a status we do not know,
    // two under our id): for an operator at the provider, not for `refund finish`.
    return res.disputed ? RefundCheck::kDisputed : RefundCheck::kUnknown;
}

providers::RefundResult AskProvider(const store::RefundRow& r,
                                    const std::function<providers::RefundResult()>& call) {
    try {
        return call();
    } catch (const std::exception& e) {
        log::Error("refund ", r.id, ": provider call threw: ", e.what());
        providers::RefundResult res;
        res.message = std::string("error: ") + e.what();
        return res;
    }
}

std::string RenderRefund(const store::RefundRow& r, bool replay) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    auto str = [&](const char* key, const std::string& v) {
        w.Key(key);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("id", r.id);
    str("order", r.order_id);
    str("slip", r.slip_id);
    w.Key("amount");
    http::WriteMoney(w, r.amount, domain::CurrencyExponent(r.currency).value_or(2));
    str("currency", r.currency);
    str("st", std::string(domain::ToString(r.st)));
    str("reason", r.reason);
    http::WriteOptString(w, "provider_refund_id",
                         r.provider_refund_id.empty() ? std::nullopt : std::optional(r.provider_refund_id));
    str("note", r.note);
    str("requested_by", r.requested_by);
    w.Key("ct");
    w.Int64(r.ct);
    w.Key("ok_at");
    if (r.ok_at) {
        w.Int64(*r.ok_at);
    } else {
        w.Null();
    }
    w.Key("replay");
    w.Bool(replay);
    w.EndObject();
    return buf.GetString();
}

namespace {

// Claims the NEW refund `r` and sends it; the caller holds its talk lock. Unless the caller has
// just looked (`checked`), a refund of a payment its provider has since contradicted a refund of
// is held, not sent: it was asked for while the amount it takes looked free, which the report
// puts in doubt. The report then, and nothing is claimed.
std::optional<std::string> ClaimAndSend(Context& ctx, const store::RefundTalk& talk,
                                        const store::RefundRow& r, bool checked) {
    if (!checked) {
        store::RefundRequest of;
        of.site = r.site_id;
        of.slip = r.slip_id;
        if (std::optional<std::string> report = store::FindRefundConflict(ctx.db(), of, r.ct)) {
            // Noted (and logged) once, not on every reconcile run while it waits.
            const std::string note = kHeldNote + *report + ")";
            if (r.note.empty() || !note.starts_with(r.note)) {  // kept cut to 500 characters
                log::Warn("refund ", r.id, ": ", note);
                store::NoteRefund(ctx.db(), r.id, note, "");
            }
            return report;
        }
    }
    // Whatever else the caller looked at: a chargeback recorded since the refund was opened (the
    // request's own check ran before it) makes the refund one the provider refuses. Failed unsent,
    // its amount free; one recorded while the request is on its way is the provider's to refuse.
    if (store::ChargebackRecorded(ctx.db(), r.slip_id)) {
        const std::string note = kChargebackNote + "nothing of it is left to refund through orderpay";
        log::Warn("refund ", r.id, ": ", note);
        Finish(ctx, r, false, "", note, false);
        return std::nullopt;
    }
    if (!store::ClaimRefund(ctx.db(), r.id)) return std::nullopt;  // another worker (or a result) came first
    providers::Provider* p = ctx.ProviderFor(r.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), r.merchant_id);
    if (!p || !p->Refunds() || !m) {
        // Nothing was sent, so nothing can have moved: the amount is free again.
        Finish(ctx, r, false, "", "no refunding provider or merchant for " + r.provider, false);
        return std::nullopt;
    }
    providers::RefundParams params = ParamsToSend(ctx, r);
    // The session holding the lock may have ended under us (a failover): then someone else may
    // be deciding the refund, and nothing is sent (review s24-talk H1).
    if (!talk.StillHeld()) {
        NoteLostTalk(ctx, r.id);
        return std::nullopt;
    }
    providers::RefundResult res = AskProvider(r, [&] { return providers::MeteredRefund(*p, *m, params); });
    std::string detail;
    RecordRefundAnswer(ctx, r, res, detail);
    return std::nullopt;
}

}  // namespace

RefundAnswer RequestRefund(Context& ctx, const store::RefundRequest& req) {
    RefundAnswer a;
    if (std::optional<std::string> taken = ChargedBack(ctx, req)) {
        a.err = http::Err::kRefundChargeback;
        a.why = *taken;
        return a;
    }
    if (std::optional<std::string> report = Contested(ctx, req)) {
        a.err = http::Err::kRefundConflict;
        a.why = *report;
        return a;
    }
    store::OpenResult o = store::OpenRefund(ctx.db(), req);
    a.why = o.detail;
    switch (o.outcome) {
        case store::OpenOutcome::kNoOrder:
        case store::OpenOutcome::kNoSlip:
            a.err = http::Err::kNoSuchObject;
            return a;
        case store::OpenOutcome::kNotPaid:
            a.err = http::Err::kRefundNotPaid;
            return a;
        case store::OpenOutcome::kTooMuch:
            a.err = http::Err::kRefundTooMuch;
            a.nothing_left = !req.amount && o.paid > 0 && o.taken >= o.paid;
            a.paid = o.paid;
            a.taken = o.taken;
            return a;
        case store::OpenOutcome::kKeyConflict:
            a.err = http::Err::kIdemMismatch;
            return a;
        case store::OpenOutcome::kExisting:
            a.replay = true;
            break;
        case store::OpenOutcome::kCreated:
            break;
    }
    log::Info("refund ", o.refund_id, (a.replay ? " replayed: " : " opened: "), o.detail);
    a.refund = store::FindRefund(ctx.db(), o.refund_id);
    if (!a.refund) {
        a.err = http::Err::kInternal;
        return a;
    }
    // A new refund is sent now; so is a replay of one whose worker died before asking (the same
    // refund id: the provider refunds it at most once).
    if (a.refund->st == domain::RefundState::kNew) {
        // Held from before the claim until the answer is recorded. Held elsewhere (a replay
        // racing the first request, reconcile, the operator), the refund is answered as it is:
        // NEW, which that holder or the next reconcile sends.
        a.sent = true;
        // A refund opened just now passed the conflict check above; a replay's may be older.
        const bool checked = !a.replay || req.despite_conflict;
        if (const std::optional<store::RefundTalk> talk = store::RefundTalk::Try(ctx.db(), o.refund_id)) {
            // Only while this request holds it, so the row never says the operator's command
            // sent a refund another process still holds (review s26-diff #7).
            if (a.replay && req.despite_conflict) NoteSentDespite(ctx, *a.refund);
            if (std::optional<std::string> held = ClaimAndSend(ctx, *talk, *a.refund, checked)) {
                a.sent = false;
                a.err = http::Err::kRefundConflict;
                a.why = *held;
            }
        }
        a.refund = store::FindRefund(ctx.db(), o.refund_id);
        if (a.err) return a;
    }
    if (a.refund && a.refund->st == domain::RefundState::kFail) {
        // Failed unsent for a chargeback recorded meanwhile: said as the chargeback it is.
        a.err = a.refund->note.starts_with(kChargebackNote) ? http::Err::kRefundChargeback
                                                            : http::Err::kRefundFailed;
        a.why = a.refund->note;
    }
    return a;
}

RefundCheck ResolveRefund(Context& ctx, const store::RefundRow& listed, std::string& detail) {
    using domain::RefundState;
    if (listed.st != RefundState::kNew && listed.st != RefundState::kProcessing)
        return listed.st == RefundState::kOk ? RefundCheck::kOk : RefundCheck::kFailed;
    // Sent, or asked about and perhaps asked for again: never while another process is sending it
    // or deciding it (review s23-finish H-B), and then left exactly as that process has it, not
    // even stamped (review s24-talk M1).
    const std::optional<store::RefundTalk> talk = store::RefundTalk::Try(ctx.db(), listed.id);
    if (!talk) {
        detail = kBusyNote;
        return RefundCheck::kBusy;
    }
    store::StampRefundQueried(ctx.db(), listed.id);
    // As it is now that no one else talks about it: claimed or finished meanwhile, or given its
    // provider id.
    const std::optional<store::RefundRow> now = store::FindRefund(ctx.db(), listed.id);
    if (!now) return RefundCheck::kUnknown;
    if (now->st == RefundState::kNew) {
        if (std::optional<std::string> held = ClaimAndSend(ctx, *talk, *now, false)) {
            detail = "NEW, " + kHeldNote + *held + ")";
            return RefundCheck::kHeld;
        }
        const std::optional<store::RefundRow> after = store::FindRefund(ctx.db(), listed.id);
        detail = after ? after->note : "";
        if (!after || after->st == RefundState::kProcessing || after->st == RefundState::kNew)
            return RefundCheck::kUnknown;
        return after->st == RefundState::kOk ? RefundCheck::kOk : RefundCheck::kFailed;
    }
    if (now->st != RefundState::kProcessing) {
        detail = now->note;
        return now->st == RefundState::kOk ? RefundCheck::kOk : RefundCheck::kFailed;
    }
    providers::Provider* p = ctx.ProviderFor(now->provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), now->merchant_id);
    if (!p || !m) {
        detail = "no provider or merchant to ask";
        return RefundCheck::kUnknown;
    }
    const providers::RefundParams params = ParamsToSend(ctx, *now);
    // A query may send (PayPal's, without its refund id), and so may the repeat below.
    auto lost = [&] {
        NoteLostTalk(ctx, now->id);
        detail = kLostNote;
        return RefundCheck::kUnknown;
    };
    if (!talk->StillHeld()) return lost();
    providers::RefundResult q =
        AskProvider(*now, [&] { return providers::MeteredQueryRefund(*p, *m, params); });
    // A disputed answer (money moved in a way we cannot record) is recorded as it is: asking for
    // the refund again could only overwrite what the provider just reported with "accepted".
    if (q.state == providers::RefundResult::State::kUnknown && !q.disputed) {
        if (!talk->StillHeld()) return lost();
        // The provider does not know it (the call never arrived) or would not say: ask for it
        // again under the same refund id, which the provider refunds at most once.
        log::Info("refund ", now->id, " unknown to the query (", q.message, "); asking again");
        // The refund was sent before (it is PROCESSING): that this repeat did not get through
        // says nothing about the first, which the provider may have carried out.
        q = providers::AsRepeatOfASentRefund(
            AskProvider(*now, [&] { return providers::MeteredRefund(*p, *m, params); }));
    }
    return RecordRefundAnswer(ctx, *now, q, detail);
}

}  // namespace orderpay::app

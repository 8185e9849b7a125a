// The refund flow. No transaction is open across a provider call: the NEW row is committed by
// orderpay_refund_open, the claim by its own statement, and the answer by another; an answer that
// never came leaves the refund PROCESSING for reconcile, never FAIL (money may have moved).
#include "orderpay/app/refund.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

namespace {

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

providers::RefundParams ParamsOf(const Context& ctx, const store::RefundRow& r) {
    providers::RefundParams p = ParamsOf(r);
    p.notify_url = ctx.settings().NotifyUrl(r.site_id, r.provider);
    return p;
}

// The note of a refund the provider took from the merchant but could not deliver: still counted
// against the slip, and only the operator can move it on at the provider.
const std::string kStuck =
    "stuck at the provider, needs the operator (the money left the merchant's account but the buyer's "
    "account refused it; redirect it at the provider, then reconcile finds it): ";

// OK/FAIL once. A result that contradicts the one recorded (a notification said otherwise
// first) is not overwritten: it is logged for an operator.
void Finish(Context& ctx, const store::RefundRow& r, bool ok, const std::string& provider_refund_id,
            const std::string& note) {
    store::FinishResult f = store::FinishRefund(ctx.db(), r.id, ok, provider_refund_id, note);
    if (f.outcome == "conflict")
        log::Error("refund ", r.id, ": provider now says ", ok ? "OK" : "FAIL", " (", note,
                   "), recorded otherwise before");
}

// Writes what the provider said. A success whose amount differs from ours is not believed: the
// refund stays PROCESSING with the discrepancy in its note, for an operator.
RefundCheck Record(Context& ctx, const store::RefundRow& r, const providers::RefundResult& res,
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
                return RefundCheck::kUnknown;
            }
            Finish(ctx, r, true, res.provider_refund_id, res.message);
            return RefundCheck::kOk;
        case S::kFailed:
            log::Warn("refund ", r.id, " refused: ", res.message);
            Finish(ctx, r, false, res.provider_refund_id, "provider: " + res.message);
            return RefundCheck::kFailed;
        case S::kProcessing:
            if (res.stuck) {
                detail = kStuck + res.message;
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
    return RefundCheck::kUnknown;
}

// One provider call; an exception is an unknown outcome (the request may have reached it).
template <typename Call>
providers::RefundResult Ask(const store::RefundRow& r, Call&& call) {
    try {
        return call();
    } catch (const std::exception& e) {
        log::Error("refund ", r.id, ": provider call threw: ", e.what());
        providers::RefundResult res;
        res.message = std::string("error: ") + e.what();
        return res;
    }
}

}  // namespace

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

bool ProviderRefunds(const Context& ctx, const std::string& provider) {
    const providers::Provider* p = ctx.ProviderFor(provider);
    return p && p->Refunds();
}

void SendRefund(Context& ctx, const store::RefundRow& r) {
    if (!store::ClaimRefund(ctx.db(), r.id)) return;  // another worker (or a result) came first
    providers::Provider* p = ctx.ProviderFor(r.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), r.merchant_id);
    if (!p || !p->Refunds() || !m) {
        // Nothing was sent, so nothing can have moved: the amount is free again.
        Finish(ctx, r, false, "", "no refunding provider or merchant for " + r.provider);
        return;
    }
    providers::RefundParams params = ParamsOf(ctx, r);
    providers::RefundResult res = Ask(r, [&] { return providers::MeteredRefund(*p, *m, params); });
    std::string detail;
    Record(ctx, r, res, detail);
}

RefundAnswer RequestRefund(Context& ctx, const store::RefundRequest& req) {
    RefundAnswer a;
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
        a.sent = true;
        SendRefund(ctx, *a.refund);
        a.refund = store::FindRefund(ctx.db(), o.refund_id);
    }
    if (a.refund && a.refund->st == domain::RefundState::kFail) {
        a.err = http::Err::kRefundFailed;
        a.why = a.refund->note;
    }
    return a;
}

RefundCheck ResolveRefund(Context& ctx, const store::RefundRow& r, std::string& detail) {
    store::StampRefundQueried(ctx.db(), r.id);
    if (r.st == domain::RefundState::kNew) {
        SendRefund(ctx, r);
        std::optional<store::RefundRow> now = store::FindRefund(ctx.db(), r.id);
        detail = now ? now->note : "";
        if (!now || now->st == domain::RefundState::kProcessing) return RefundCheck::kUnknown;
        return now->st == domain::RefundState::kOk ? RefundCheck::kOk : RefundCheck::kFailed;
    }
    if (r.st != domain::RefundState::kProcessing)
        return r.st == domain::RefundState::kOk ? RefundCheck::kOk : RefundCheck::kFailed;
    providers::Provider* p = ctx.ProviderFor(r.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), r.merchant_id);
    if (!p || !m) {
        detail = "no provider or merchant to ask";
        return RefundCheck::kUnknown;
    }
    const providers::RefundParams params = ParamsOf(ctx, r);
    providers::RefundResult q = Ask(r, [&] { return providers::MeteredQueryRefund(*p, *m, params); });
    if (q.state == providers::RefundResult::State::kUnknown) {
        // The provider does not know it (the call never arrived) or would not say: ask for it
        // again under the same refund id, which the provider refunds at most once.
        log::Info("refund ", r.id, " unknown to the query (", q.message, "); asking again");
        // The refund was sent before (it is PROCESSING): that this repeat did not get through
        // says nothing about the first, which the provider may have carried out.
        q = providers::AsRepeatOfASentRefund(
            Ask(r, [&] { return providers::MeteredRefund(*p, *m, params); }));
    }
    return Record(ctx, r, q, detail);
}

namespace {

// What a refund notification from a SettlesOnOwnQuery provider is recorded on: the provider's own
// record of the refund, asked by its id. A message naming some other refund, or one the provider
// does not know, is refused; one we could not check is answered kError, so it is sent again.
std::optional<NotifyDecision> ConfirmOrRefuse(const providers::Provider& p, const NotifyEval& ev,
                                              const providers::RefundParams& params,
                                              providers::RefundResult& q) {
    using A = providers::NotifyAnswer;
    const std::string named = params.provider_refund_id.empty() ? "(none)" : params.provider_refund_id;
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

}  // namespace

NotifyDecision DecideRefundNotice(db::Connection& c, const providers::Provider& p, const NotifyEval& ev) {
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
        if (!confirm || !ev.slip)
            return {
                "ignored",
                "no refund of ours named " + (rf.refund_id.empty() ? rf.provider_refund_id : rf.refund_id),
                A::kAccepted};
        providers::RefundParams params;
        params.slip_id = ev.slip->id;
        params.txn_id = ev.slip->provider_txn_id.value_or("");
        params.currency = ev.slip->currency;
        params.provider_refund_id = rf.provider_refund_id;
        if (std::optional<NotifyDecision> d = ConfirmOrRefuse(p, ev, params, q)) return *d;
        // The provider's record may name a refund of ours the message left out (one whose answer
        // never reached us): that refund, not an outside one (review s22 M1).
        r = q.refund_no.empty() ? std::nullopt : store::FindRefund(c, q.refund_no);
        if (!r || r->slip_id != ev.slip->id) {
            const std::string named = q.refund_no.empty() ? q.provider_refund_id : q.refund_no;
            if (q.state == S::kFailed)
                return {"ignored", "a refund orderpay did not make, failed at the provider: " + q.message,
                        A::kAccepted};
            return {"ignored", "no refund of ours named " + named + ": the provider's " + q.message,
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
        if (std::optional<NotifyDecision> d = ConfirmOrRefuse(p, ev, params, q)) return *d;
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
            store::NoteRefund(c, r->id, (q.stuck ? kStuck : std::string("pending: ")) + q.message,
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
        const std::string note = kStuck + status;
        log::Error("refund ", r->id, ": ", note);
        store::NoteRefund(c, r->id, note, provider_refund_id);  // only while NEW or PROCESSING
        return {"ignored", "refund " + r->id + ": " + note, A::kAccepted};
    }
    if (!ok && !failed) return {"ignored", "refund " + r->id + " not final: " + status, A::kAccepted};
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

}  // namespace orderpay::app

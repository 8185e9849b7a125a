// The operator's word on a refund orderpay cannot resolve by itself (`orderpay refund finish`):
// the provider is asked first, read-only, and its own final word wins; the operator's is recorded
// only where the provider has no such refund (or gives no answer, when the operator says so), and
// never for a refund the provider reports under way or paid out otherwise (review s23-finish).
#include <algorithm>

#include "orderpay/app/refund.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/providers/metered.hpp"

namespace orderpay::app {

namespace {

using domain::RefundState;

// A refund younger than this may still be on its way: Alipay's query shows no refund until it is
// done, and WeChat's none until the request has landed.
constexpr std::int64_t kMinAgeToFailMs = 24LL * 3600 * 1000;

bool Finished(RefundState st) {
    return st == RefundState::kOk || st == RefundState::kFail;
}

OperatorAnswer Answer(OperatorFinish o, std::string detail, std::optional<store::RefundRow> refund) {
    return {o, std::move(detail), std::move(refund)};
}

// Records the operator's word, if the refund is still exactly as it was judged.
OperatorAnswer RecordWord(Context& ctx, const store::RefundRow& r, const store::RefundActivity& seen,
                          const OperatorWord& word, const std::string& why) {
    const std::string text = "operator: " + word.note + " (" + why + ")";
    const store::FinishResult f = store::FinishRefundAsOperator(ctx.db(), r.id, seen, word.ok, text);
    std::optional<store::RefundRow> now = store::FindRefund(ctx.db(), r.id);
    if (f.outcome == "finished") {
        // The journal keeps who decided what, beside the refund's own note.
        log::Warn("refund ", r.id, ": ", word.ok ? "OK" : "FAIL", " on the operator's word: ", text);
        return Answer(OperatorFinish::kRecorded, why, std::move(now));
    }
    if (f.outcome == "no_refund" || !now) return Answer(OperatorFinish::kNoRefund, "", std::nullopt);
    return Answer(OperatorFinish::kMoved, "it is " + std::string(domain::ToString(now->st)) + " now",
                  std::move(now));
}

// The provider's own final word on it, recorded as reconcile would record it; judged by what
// the provider said, and "moved" if something else had finished it the other way meanwhile.
OperatorAnswer RecordProviders(Context& ctx, const store::RefundRow& r, const providers::RefundResult& q,
                               const OperatorWord& word) {
    std::string detail;
    RecordRefundAnswer(ctx, r, q, detail);
    std::optional<store::RefundRow> now = store::FindRefund(ctx.db(), r.id);
    if (!now) return Answer(OperatorFinish::kNoRefund, "", std::nullopt);
    const bool provider_ok = q.state == providers::RefundResult::State::kOk;
    if (now->st != (provider_ok ? RefundState::kOk : RefundState::kFail))
        return Answer(OperatorFinish::kMoved, detail, std::move(now));
    return Answer(provider_ok == word.ok ? OperatorFinish::kConfirmed : OperatorFinish::kContradicted, detail,
                  std::move(now));
}

// The provider's own record of refund `r`, asked once, read-only: nothing here may move money.
providers::RefundResult AskReadOnly(Context& ctx, const store::RefundRow& r) {
    providers::Provider* p = ctx.ProviderFor(r.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), r.merchant_id);
    providers::RefundResult q;
    if (!p || !m) {
        q.message = "no provider or merchant to ask";
        return q;
    }
    providers::RefundParams params = ParamsOf(r);
    params.read_only = true;  // a look, never a request
    return AskProvider(r, [&] { return providers::MeteredQueryRefund(*p, *m, params); });
}

// The provider reports money moved, but not as refund `r` can be recorded: another amount, two
// refunds under our id, or no such refund any more where it named one before (another account or
// credentials answering, review s23-finish2 M-B).
std::optional<OperatorAnswer> Disputed(const store::RefundRow& r, const providers::RefundResult& q) {
    using S = providers::RefundResult::State;
    const bool other_amount = q.state == S::kOk && q.amount != 0 && q.amount != r.amount;
    const bool forgotten = q.not_known && !r.provider_refund_id.empty();
    if (!q.disputed && !other_amount && !forgotten) return std::nullopt;
    return Answer(OperatorFinish::kDisputed,
                  other_amount ? "the provider reports a refund of another amount or currency: " + q.message
                  : forgotten  ? "the provider gave it id " + r.provider_refund_id +
                                    " before, and now says it has no such refund: " + q.message
                              : q.message,
                  r);
}

// A FAIL refund a conflict on record says its provider refunded (a notification finished it FAIL
// while our request was on its way, and the provider then answered OK): the money went back, yet
// the books count it free, and a week later `refund --slip` paid it again (review s36 helper-125
// #4). Corrected to OK only on the provider's own record asked now (or, given
// --despite-no-answer, when it gives none: the operator's word); never when it says otherwise.
OperatorAnswer CorrectFailed(Context& ctx, const store::RefundRow& r, const OperatorWord& word) {
    using S = providers::RefundResult::State;
    const providers::RefundResult q = AskReadOnly(ctx, r);
    if (std::optional<OperatorAnswer> d = Disputed(r, q)) return *d;
    if (q.state == S::kFailed)
        return Answer(OperatorFinish::kRecordedBefore,
                      "FAIL, and the provider's record says it failed too: " + q.message +
                          " (the conflict stays listed: settle it in the provider's console)",
                      r);
    if (q.state == S::kProcessing) return Answer(OperatorFinish::kUnderWay, q.message, r);
    // "No such refund" is no answer here: the provider said it refunded it.
    if (q.state != S::kOk && !word.despite_no_answer) return Answer(OperatorFinish::kNoAnswer, q.message, r);
    const std::string why = q.state == S::kOk ? "the provider's record says refunded: " + q.message
                                              : "no answer from the provider: " + q.message;
    const std::string text = "operator: " + word.note + " (corrected FAIL to OK, " + why + ")";
    const store::CorrectResult f = store::CorrectRefund(ctx.db(), r.id, text);
    std::optional<store::RefundRow> now = store::FindRefund(ctx.db(), r.id);
    if (f.outcome == "finished") {
        log::Warn("refund ", r.id, ": corrected FAIL to OK on a refund conflict: ", text);
        return Answer(OperatorFinish::kCorrected,
                      why + (f.order_st ? "; order " + std::string(domain::ToString(*f.order_st)) : ""),
                      std::move(now));
    }
    if (f.outcome == "no_refund" || !now) return Answer(OperatorFinish::kNoRefund, "", std::nullopt);
    if (f.outcome == "duplicate") return Answer(OperatorFinish::kAlready, "", std::move(now));
    if (f.outcome == "too_much" || f.outcome == "in_flight")
        return Answer(OperatorFinish::kNoRoom,
                      (f.outcome == "in_flight" ? "another refund of the slip is in flight"
                                                : "the slip's OK refunds already cover it") +
                          std::string(" (") + f.detail + ")",
                      std::move(now));
    return Answer(OperatorFinish::kMoved, "it is " + std::string(domain::ToString(now->st)) + " now",
                  std::move(now));
}

// How long after a claim or a reconcile stamp a request about the refund may still be in flight:
// a sender's whole chain (PayPal: a token, its order, the refund, each perhaps twice on a token
// refused; reconcile: a query and then a repeat), never less than a lost slip's resend bound.
std::int64_t InFlightMs(const Context& ctx) {
    return std::max<std::int64_t>(ctx.settings().resend_after_ms, 8 * ctx.settings().provider_call_ms);
}

}  // namespace

std::string_view ToString(OperatorFinish o) {
    switch (o) {
        case OperatorFinish::kRecorded:
            return "recorded";
        case OperatorFinish::kAlready:
            return "already";
        case OperatorFinish::kConfirmed:
            return "confirmed";
        case OperatorFinish::kContradicted:
            return "contradicted";
        case OperatorFinish::kUnderWay:
            return "under_way";
        case OperatorFinish::kDisputed:
            return "disputed";
        case OperatorFinish::kNoAnswer:
            return "no_answer";
        case OperatorFinish::kBusy:
            return "busy";
        case OperatorFinish::kTooYoung:
            return "too_young";
        case OperatorFinish::kRefusedNew:
            return "never_sent";
        case OperatorFinish::kRecordedBefore:
            return "recorded_before";
        case OperatorFinish::kMoved:
            return "moved";
        case OperatorFinish::kNoRefund:
            return "no_refund";
        case OperatorFinish::kCorrected:
            return "corrected";
        case OperatorFinish::kNoRoom:
            return "no_room";
    }
    return "?";
}

OperatorAnswer FinishAsOperator(Context& ctx, const std::string& refund_id, const OperatorWord& word) {
    if (!domain::IsOrderId(refund_id)) return Answer(OperatorFinish::kNoRefund, "", std::nullopt);
    // Held until the word is recorded: no sender or reconcile can ask the provider about the
    // refund meanwhile, and none is doing so now, however long ago it started (review s23-finish
    // H-B: a sender stalled past any time window).
    const std::optional<store::RefundTalk> talk = store::RefundTalk::Try(ctx.db(), refund_id);
    const std::optional<store::RefundRow> r = store::FindRefund(ctx.db(), refund_id);
    const std::optional<store::RefundActivity> seen = store::RefundActivityOf(ctx.db(), refund_id);
    if (!r || !seen) return Answer(OperatorFinish::kNoRefund, "", std::nullopt);
    if (!talk) {
        // Named, so a sender that hangs can be found and stopped: the process, not its database
        // backend, whose end would free the refund while the process may still send (README).
        const std::string holder = store::RefundTalkHolder(ctx.db(), refund_id);
        return Answer(OperatorFinish::kBusy,
                      "another process is sending it or asking its provider about it right now" +
                          (holder.empty() ? std::string() : " (" + holder + ")") +
                          ": try again when it is done",
                      r);
    }
    // Two reads: a claim between them (NEW, then PROCESSING with its send starting) must not be
    // judged as NEW and checked under the lock as PROCESSING (review s23-finish2 H-A).
    if (seen->st != domain::ToString(r->st))
        return Answer(OperatorFinish::kMoved, "it is " + seen->st + " now", r);
    const RefundState said = word.ok ? RefundState::kOk : RefundState::kFail;
    if (r->st == said) return Answer(OperatorFinish::kAlready, "", r);
    if (r->st == RefundState::kFail && word.ok && store::RefundConflictSaysOk(ctx.db(), r->id))
        return CorrectFailed(ctx, *r, word);
    if (Finished(r->st)) return Answer(OperatorFinish::kRecordedBefore, r->note, r);
    if (r->st == RefundState::kNew) {
        // Every sender claims it (PROCESSING) before sending, so a refund still NEW under the row
        // lock never reached the provider: failing it cancels it, and it can never be OK.
        if (word.ok) return Answer(OperatorFinish::kRefusedNew, "it was never sent to the provider", r);
        return RecordWord(ctx, *r, *seen, word, "cancelled before it was sent");
    }
    // PROCESSING. A sender claims it and reconcile stamps it before asking the provider, and their
    // request may be in flight for a sender's whole chain after that (InFlightMs): what the
    // provider says now may be overtaken by it (review s23-finish H2).
    if (const std::int64_t quiet = InFlightMs(ctx); seen->idle_ms < quiet)
        return Answer(OperatorFinish::kBusy,
                      "sent or asked about " + std::to_string(seen->idle_ms / 1000) +
                          " s ago, a request may be in flight: try again in " +
                          std::to_string((quiet - seen->idle_ms) / 1000 + 1) + " s",
                      r);
    const providers::RefundResult q = AskReadOnly(ctx, *r);
    using S = providers::RefundResult::State;
    if (std::optional<OperatorAnswer> d = Disputed(*r, q)) return *d;
    if (q.state == S::kOk || q.state == S::kFailed) return RecordProviders(ctx, *r, q, word);
    if (q.state == S::kProcessing) return Answer(OperatorFinish::kUnderWay, q.message, r);
    if (!q.not_known && !word.despite_no_answer) return Answer(OperatorFinish::kNoAnswer, q.message, r);
    if (!word.ok && seen->age_ms < kMinAgeToFailMs)
        return Answer(OperatorFinish::kTooYoung,
                      "made " + std::to_string(seen->age_ms / 60000) +
                          " min ago: a refund under a day old may still be on its way (the provider said: " +
                          q.message + ")",
                      r);
    return RecordWord(
        ctx, *r, *seen, word,
        (q.not_known ? "the provider has no such refund: " : "no answer from the provider: ") + q.message);
}

}  // namespace orderpay::app

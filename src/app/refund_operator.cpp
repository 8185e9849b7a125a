// The operator's word on a refund orderpay cannot resolve by itself (`orderpay refund finish`):
// the provider is asked first, read-only, and its own final word wins; the operator's is recorded
// only where the provider cannot say, and never for a refund still under way there.
#include "orderpay/app/refund.hpp"
#include "orderpay/core/log.hpp"

namespace orderpay::app {

namespace {

using domain::RefundState;

bool Finished(RefundState st) {
    return st == RefundState::kOk || st == RefundState::kFail;
}

// Records the operator's word, if the refund is still in the state it was judged in.
OperatorAnswer RecordWord(Context& ctx, const store::RefundRow& r, bool ok, const std::string& note,
                          const std::string& why) {
    const std::string text = "operator: " + note + " (" + why + ")";
    const store::FinishResult f = store::FinishRefundAsOperator(ctx.db(), r.id, r.st, ok, text);
    OperatorAnswer a;
    a.detail = why;
    a.refund = store::FindRefund(ctx.db(), r.id);
    if (f.outcome == "finished") {
        // The journal keeps who decided what, beside the refund's own note.
        log::Warn("refund ", r.id, ": ", ok ? "OK" : "FAIL", " on the operator's word: ", text);
        a.outcome = OperatorFinish::kRecorded;
    } else if (f.outcome == "no_refund" || !a.refund) {
        a.outcome = OperatorFinish::kNoRefund;
    } else {
        a.outcome = OperatorFinish::kMoved;
        a.detail = "it is " + std::string(domain::ToString(a.refund->st)) + " now";
    }
    return a;
}

}  // namespace

OperatorAnswer FinishAsOperator(Context& ctx, const std::string& refund_id, bool ok,
                                const std::string& note) {
    OperatorAnswer a;
    const std::optional<store::RefundRow> r = store::FindRefund(ctx.db(), refund_id);
    if (!r) return a;
    a.refund = r;
    const RefundState word = ok ? RefundState::kOk : RefundState::kFail;
    if (r->st == word) {
        a.outcome = OperatorFinish::kAlready;
        return a;
    }
    if (Finished(r->st)) {
        a.outcome = OperatorFinish::kRecordedBefore;
        a.detail = r->note;
        return a;
    }
    if (r->st == RefundState::kNew) {
        // Claimed (PROCESSING) before anything is sent, so a refund still NEW under the row lock
        // has not reached the provider: failing it cancels it, and it can never be OK.
        if (ok) {
            a.outcome = OperatorFinish::kRefusedNew;
            a.detail = "it was never sent to the provider";
            return a;
        }
        return RecordWord(ctx, *r, false, note, "cancelled before it was sent");
    }
    // PROCESSING: the provider's own final word, where it has one, is recorded instead.
    std::string detail;
    const RefundCheck check = ResolveRefund(ctx, *r, detail, /*may_send=*/false);
    a.detail = detail;
    if (check == RefundCheck::kUnknown)
        return RecordWord(ctx, *r, ok, note, "the provider could not say: " + detail);
    a.refund = store::FindRefund(ctx.db(), refund_id);
    if (check == RefundCheck::kPending || !a.refund) {
        a.outcome = OperatorFinish::kUnderWay;
        return a;
    }
    // Recorded from the provider's answer (or, if a notification came first, as it said).
    a.outcome = a.refund->st == word     ? OperatorFinish::kConfirmed
                : Finished(a.refund->st) ? OperatorFinish::kContradicted
                                         : OperatorFinish::kUnderWay;
    return a;
}

}  // namespace orderpay::app

// The checks a refund passes before anything is written or sent (include/orderpay/app/refund.hpp,
// refund_checks.hpp): whether the provider can refund, a chargeback, a contradicting report.
#include "orderpay/app/refund_checks.hpp"

#include "orderpay/app/refund.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/store/notifications.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

std::string RefundBlocker(Context& ctx, const store::SlipRow& slip, const std::optional<std::string>& key) {
    if (key) {
        const std::optional<store::RefundRow> r = store::FindRefundByKey(ctx.db(), slip.site_id, *key);
        if (r && r->slip_id == slip.id && r->st != domain::RefundState::kNew) return {};
    }
    const providers::Provider* p = ctx.ProviderFor(slip.provider);
    if (!p || !p->Refunds()) return "provider " + slip.provider + " cannot refund through orderpay";
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!m) return "merchant " + slip.merchant_id + " is not on record";
    return p->RefundBlocker(*m);
}

std::optional<store::OrderRecord> OrderPaidBy(db::Connection& c, const store::SlipRow& slip) {
    if (slip.refund_needed) return std::nullopt;
    std::optional<store::OrderRecord> o = store::FindOrder(c, slip.site_id, slip.order_id);
    if (!o || o->pay_id != slip.id || !domain::IsPaid(o->or_st)) return std::nullopt;
    return o;
}

// The provider's report that puts the payment `req` would refund in doubt, unless the operator
// has checked at the provider and says so (--despite-conflict: logged). Asked before the amount
// is judged free: a report that a refund recorded FAIL was paid out after all means the "free"
// amount may be the buyer's already, and a second refund of it would pay it twice. Outside the
// slip lock, as a report arriving a moment later would be anyway.
std::optional<std::string> Contested(Context& ctx, const store::RefundRequest& req) {
    std::optional<std::string> report = store::FindRefundConflict(ctx.db(), req);
    if (!report) return std::nullopt;
    const std::string what = req.slip ? "slip " + *req.slip : "order " + req.order;
    if (req.despite_conflict) {
        log::Warn("refund of ", what, " asked for despite its provider contradicting a recorded refund (",
                  *report, "): the operator's --despite-conflict");
        return std::nullopt;
    }
    log::Warn("refund of ", what, " refused: its provider contradicts a recorded refund: ", *report);
    return report;
}

// A held refund sent by its key's replay with --despite-conflict keeps the operator's word on the
// row, as a refund opened with it does (review s25-diff #7): whoever later wonders why a payment
// in conflict was refunded finds it in requested_by (the note is the provider's answer's), not
// only in a log.
void NoteSentDespite(Context& ctx, const store::RefundRow& r) {
    store::RefundRequest of;
    of.site = r.site_id;
    of.slip = r.slip_id;
    const std::optional<std::string> report = store::FindRefundConflict(ctx.db(), of, r.ct);
    if (!report) return;
    log::Warn("refund ", r.id, " sent despite its provider contradicting a recorded refund (", *report,
              "): the operator's --despite-conflict");
    store::MarkSentDespiteConflict(ctx.db(), r.id);
}

// The chargeback of the payment `req` would refund (its reason's record after "chargeback: "),
// unless `req` replays a refund of it. Said before a conflict: the money is gone whatever else.
// Not logged: nothing was written or sent, the error logged when it was recorded, and the
// operator's command answers in one line.
std::optional<std::string> ChargedBack(Context& ctx, const store::RefundRequest& req) {
    const std::optional<std::string> reason = store::FindRefundChargeback(ctx.db(), req);
    if (!reason) return std::nullopt;
    const std::size_t at = reason->find("chargeback: ");
    return at == std::string::npos ? *reason : reason->substr(at + 12);
}

}  // namespace orderpay::app

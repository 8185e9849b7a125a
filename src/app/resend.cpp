// Sends a NEW slip whose sender died between its commit and the provider call (app/resend.hpp).
#include "orderpay/app/resend.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/store/orders.hpp"

namespace orderpay::app {

std::optional<Resent> ResendUnsent(Context& ctx, const store::OrderRecord& order, const store::SlipRow& slip,
                                   const PayInputs& in) {
    // WT too: pay/pay swaps a new slip into an order already waiting on an older one.
    if (slip.st != domain::SlipState::kNew || slip.superseded || !domain::IsPayable(order.or_st) ||
        order.expired || order.pay_id != slip.id)
        return std::nullopt;
    std::optional<PayType> pt = ParsePayType(slip.pay_tp);
    // A scan's code is good for a minute or so and was the first request's to spend: sending it
    // again long after could only fail, and the expiry timer frees the order's stock anyway.
    if (!pt || pt->kind == providers::PayKind::kScan || CheckPayInputs(*pt, in)) return std::nullopt;
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!m) return std::nullopt;
    // The claim is the guard: its sender would have sent or given up long before (the setting is
    // at least three provider calls' time), and of two callers here only one moves lm.
    if (!store::ClaimResend(ctx.db(), slip.id, ctx.settings().resend_after_ms)) return std::nullopt;
    // Its request may have reached the provider before the worker died, and the buyer may have
    // paid since: sent again, the provider would answer "already paid", which SendSlip records
    // as a failure. Asked first, such a slip settles, or fails if the provider closed it.
    RefreshSlip(ctx, slip, QueryPace::kNow);
    if (std::optional<store::SlipRow> now = store::FindSlip(ctx.db(), slip.id);
        now && now->st != domain::SlipState::kNew) {
        std::optional<http::Err> err;
        if (now->st == domain::SlipState::kFail) err = http::Err::kProvider;
        SlipAnswer a = AnswerFor(ctx, slip.id, order.site_id, order.id, err);
        return Resent{a.paid_meanwhile ? std::nullopt : a.err, std::move(a.order_json)};
    }
    log::Warn("slip ", slip.id,
              " was never sent (its request ended before the provider call): sending it now");
    // Same slip id, so a provider that did get the first request sees the same out_trade_no.
    SlipToSend s{slip.id,     order.id,      order.site_id,    order.title,
                 slip.amount, slip.currency, order.expi / 1000};
    SlipAnswer a = SendSlip(ctx, *pt, *m, s, in);
    return Resent{a.paid_meanwhile ? std::nullopt : a.err, std::move(a.order_json)};
}

}  // namespace orderpay::app

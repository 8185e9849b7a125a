// Slip sending and refreshing. Provider calls happen with no transaction open; each result is
// committed afterwards with conditional UPDATEs, so a crash in between leaves a NEW/WAIT slip
// that pay/check or `orderpay reconcile` resolves with a query.
#include "orderpay/app/payflow.hpp"

#include "orderpay/app/order_view.hpp"
#include "orderpay/app/query_refunded.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/metered.hpp"
#include "orderpay/store/check_view.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

namespace {

// A payment the provider confirmed by query or synchronously: settled as a notification would be.
store::SettleOutcome SettleConfirmed(Context& ctx, const std::string& provider, const std::string& slip_id,
                                     const providers::Merchant& m, const providers::QueryResult& q,
                                     std::string& detail) {
    providers::PaidEvent ev{slip_id,  q.txn_id, q.amount, q.currency, m.app_id,
                            m.mch_id, true,     false,    "SUCCESS"};
    // Refunded at the provider since (its console): recorded beside the payment it settles.
    const providers::Provider* p = ctx.ProviderFor(provider);
    return store::Settle(ctx.db(), provider, ev, detail,
                         p ? QueryRefundedNote(ctx.db(), *p, slip_id, q) : store::RefundedNote{});
}

// The provider voided a slip only after the buyer had paid it, and refunded that payment in the
// same step: the payment and its refund are recorded together (store::RecordReversal). Its own
// notification may come before or after; either way the order ends refunded, not paid.
bool RecordReversal(Context& ctx, const std::string& provider, const std::string& slip_id,
                    std::int64_t amount, const std::string& currency, const std::string& txn_id,
                    bool* first = nullptr) {
    providers::PaidEvent ev;
    ev.slip_id = slip_id;
    ev.txn_id = txn_id;
    // The void refunds the whole trade, and a trade can only be paid for what the slip asked.
    ev.amount = amount;
    ev.currency = currency;
    ev.paid = true;
    store::ReversalResult r = store::RecordReversal(ctx.db(), provider, ev);
    using O = store::SettleOutcome;
    if (r.settle == O::kNoSlip || r.settle == O::kMismatch || r.settle == O::kTxnReused) {
        log::Error("slip ", slip_id, ": paid (", txn_id,
                   ") and refunded by the provider's void, not recorded: ", store::ToString(r.settle), ": ",
                   r.detail);
        return false;
    }
    // Also a repeat (a second expire run): its refund is already there.
    if (first) *first = r.first;
    log::Warn("slip ", slip_id, ": paid (", txn_id,
              ") and refunded by the provider's void: ", store::ToString(r.settle), ", ",
              r.refund_id.empty() ? r.detail : "refund " + r.refund_id + " recorded OK",
              r.stock_released ? ", stock given back" : "");
    return true;
}

// The provider call and the record of its answer. The order's JSON is written to `order_json`
// only when the record itself answers it (a waiting slip); a declined scan's reason, in the
// provider's words, to `declined`; `lost` is set when the provider took the slip but the record
// found it no longer the order's waiting slip (the order moved on during the call).
std::optional<http::Err> Send(Context& ctx, const PayType& pt, const providers::Merchant& m,
                              const SlipToSend& s, const PayInputs& in, std::string* order_json,
                              std::string* declined, bool* lost) {
    providers::Provider* p = ctx.ProviderFor(pt.prefix);
    if (!p) return http::Err::kInvalidPayTp;
    providers::CreateParams cp;
    cp.slip_id = s.slip_id;
    cp.amount = s.amount;
    cp.currency = s.currency;
    cp.description = s.title;
    cp.kind = pt.kind;
    cp.openid = in.openid;
    cp.auth_code = in.auth_code;
    cp.client_ip = in.client_ip;
    cp.notify_url = ctx.settings().NotifyUrl(s.site_id, pt.prefix);
    cp.expire_epoch_s = s.expire_epoch_s;
    cp.before_void = [&ctx, &s] { store::MarkVoiding(ctx.db(), s.slip_id); };
    providers::CreateResult r;
    try {
        r = providers::MeteredCreate(*p, m, cp);
    } catch (const std::exception& e) {
        // The order and slip are committed: a 500 would hide them from the buyer (no order id
        // to retry with pay/pay) and leave the slip NEW. Whether the request left cannot be
        // told from here, so the slip waits as for a timeout: a query settles it if money moved.
        log::Error("slip ", s.slip_id, ": the provider call failed inside orderpay: ", e.what());
        r = providers::CreateResult{};
        r.outcome = providers::Outcome::kUnknown;
        r.message = "internal error around the provider call";
    }
    switch (r.outcome) {
        case providers::Outcome::kPending: {
            // The write answers the order as it now stands (read again only if it raced).
            try {
                auto v = store::MarkWaiting(ctx.db(), s.site_id, s.slip_id, s.order_id, r.re_tp, r.re_obj, "",
                                            r.provider_ref);
                if (order_json && v) *order_json = RenderOrder(v->order, v->items, v->slip);
                if (lost)
                    *lost = !v || v->order.pay_id != s.slip_id || !v->slip || v->slip->id != s.slip_id ||
                            v->slip->st != domain::SlipState::kWait;
                return std::nullopt;
            } catch (const db::Error& e) {
                // An answer naming the provider order of another slip (pay_slips_provider_ref is
                // unique) contradicts itself: nobody may pay this slip through it. Failed like an
                // unusable answer, with the order still answered.
                if (e.sqlstate != "23505") throw;
                const std::string message = "answer names an order id another slip holds";
                log::Error("slip ", s.slip_id, ": ", message, " (", r.provider_ref, ")");
                store::FailSlip(ctx.db(), s.slip_id, "provider: " + message);
                return http::Err::kProvider;
            }
        }
        case providers::Outcome::kPaid: {
            store::MarkWaiting(ctx.db(), s.site_id, s.slip_id, s.order_id, "NONE", "", "paid at once");
            providers::QueryResult q;
            q.txn_id = r.txn_id;
            q.amount = r.paid_amount;
            q.currency = r.paid_currency;
            std::string detail;
            store::SettleOutcome o = SettleConfirmed(ctx, pt.prefix, s.slip_id, m, q, detail);
            if (o == store::SettleOutcome::kMismatch || o == store::SettleOutcome::kNoSlip ||
                o == store::SettleOutcome::kTxnReused) {
                log::Error("slip ", s.slip_id, ": scan payment not settled: ", detail);
                return http::Err::kProvider;
            }
            return std::nullopt;
        }
        case providers::Outcome::kFailed:
            if (pt.kind == providers::PayKind::kScan && declined) *declined = r.decline;
            if (!r.reversed_txn.empty()) {
                RecordReversal(ctx, pt.prefix, s.slip_id, s.amount, s.currency, r.reversed_txn);
                return http::Err::kPayFailed;
            }
            store::FailSlip(ctx.db(), s.slip_id, r.message);
            log::Warn("slip ", s.slip_id, " failed: ", r.message);
            return pt.kind == providers::PayKind::kScan ? http::Err::kPayFailed : http::Err::kProvider;
        case providers::Outcome::kUnknown:
            // Unknown is never failed: keep WAIT so a query settles it if money moved.
            store::MarkWaiting(ctx.db(), s.site_id, s.slip_id, s.order_id, "NONE", "", r.message,
                               r.provider_ref);
            log::Warn("slip ", s.slip_id, " outcome unknown: ", r.message);
            return http::Err::kProviderTimeout;
    }
    return http::Err::kInternal;
}

}  // namespace

SlipAnswer AnswerFor(Context& ctx, const std::string& slip_id, const std::string& site_id,
                     const std::string& order_id, std::optional<http::Err> err) {
    SlipAnswer a;
    a.err = err;
    std::optional<store::OrderRecord> now = LoadOrder(ctx.db(), site_id, order_id, &a.order_json);
    if (a.err && now && domain::IsPaid(now->or_st)) {
        a.paid_meanwhile = true;
        log::Info("slip ", slip_id, ": ", http::Info(*a.err).code,
                  " overtaken: the order was paid meanwhile");
    }
    return a;
}

SlipAnswer SendSlip(Context& ctx, const PayType& pt, const providers::Merchant& m, const SlipToSend& s,
                    const PayInputs& in) {
    SlipAnswer a;
    std::string declined;
    a.err = Send(ctx, pt, m, s, in, &a.order_json, &declined, &a.lost);
    if (a.order_json.empty()) a = AnswerFor(ctx, s.slip_id, s.site_id, s.order_id, a.err);
    if (a.err == http::Err::kPayFailed && !a.paid_meanwhile) a.msg = DeclinedMessage(declined);
    return a;
}

providers::CloseResult CloseSlip(Context& ctx, providers::Provider& p, const providers::Merchant& m,
                                 const store::SlipRow& slip, bool* reversal_first) {
    // Committed before the call: a close can become a cancel that refunds a payment made
    // meanwhile, and a crash before that is recorded must leave a trace (CheckVoidedSlip).
    store::MarkVoiding(ctx.db(), slip.id);
    const providers::PayTypeRow* pt = providers::FindPayType(slip.pay_tp);
    providers::CloseResult c =
        providers::MeteredClose(p, m, slip.id, pt && pt->kind == providers::PayKind::kScan);
    if (!c.reversed_txn.empty())
        RecordReversal(ctx, slip.provider, slip.id, slip.amount, slip.currency, c.reversed_txn,
                       reversal_first);
    return c;
}

bool RefreshSlip(Context& ctx, const store::SlipRow& slip, QueryPace pace,
                 std::optional<std::int64_t> asked_ago_ms, std::optional<store::SettleOutcome>* settled) {
    if (!slip.Open()) return false;
    const std::int64_t interval = pace == QueryPace::kNow ? 0 : ctx.settings().query_min_interval_ms;
    // The claim's own rule on a time read by the same clock: it would refuse, so a poll of a
    // waiting order costs no round trip for it.
    if (interval > 0 && asked_ago_ms && *asked_ago_ms < interval) return false;
    if (!store::ClaimQuery(ctx.db(), slip.id, interval))
        return false;  // asked recently, by us or another worker
    providers::Provider* p = ctx.ProviderFor(slip.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!p || !m) return false;
    providers::QueryResult q = providers::MeteredQuery(*p, *m, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    // Approved by the buyer, not yet paid: completed here (PayPal capture) while the slip is
    // still the order's live one and the order can take it; never for anything else.
    if (q.state == S::kApproved && !slip.superseded &&
        store::OrderPayableNow(ctx.db(), slip.order_id, slip.id)) {
        q = providers::MeteredComplete(*p, *m, slip.id, slip.provider_ref);
        log::Info("slip ", slip.id, " approved; completed: ", q.message);
    }
    if (q.state == S::kPaid) {
        std::string detail;
        store::SettleOutcome o = SettleConfirmed(ctx, slip.provider, slip.id, *m, q, detail);
        if (settled) *settled = o;
        log::Info("slip ", slip.id, " queried paid: ", store::ToString(o), " (", detail, ")");
    } else if (q.state == S::kClosed || q.state == S::kFailed) {
        store::FailSlip(ctx.db(), slip.id, "provider: " + q.message);
    } else if (q.state == S::kUnknown) {
        // Said, not swallowed: a query that cannot get an answer (a TLS failure, say) must show.
        log::Warn("slip ", slip.id, " query unanswered: ", q.message);
    }
    // kNotFound right after creation is normal for some providers (not scanned yet): no change.
    return true;
}

FailedSlipCheck CheckFailedSlip(Context& ctx, const store::SlipRow& slip, std::string& detail) {
    providers::Provider* p = ctx.ProviderFor(slip.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!p || !m) {
        detail = "no provider or merchant for " + slip.provider;
        return FailedSlipCheck::kUnknown;
    }
    store::StampQueried(ctx.db(), slip.id);
    providers::QueryResult q = providers::MeteredQuery(*p, *m, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    switch (q.state) {
        case S::kPaid: {
            store::SettleOutcome o = SettleConfirmed(ctx, slip.provider, slip.id, *m, q, detail);
            detail = std::string(store::ToString(o)) + ": " + detail;
            if (o == store::SettleOutcome::kDuplicate) {
                log::Info("failed slip ", slip.id, " found paid at ", slip.provider,
                          ", recorded meanwhile: ", detail);
                return FailedSlipCheck::kPaidMeanwhile;
            }
            log::Warn("failed slip ", slip.id, " found paid at ", slip.provider, ": ", detail);
            return FailedSlipCheck::kPaid;
        }
        case S::kClosed:
        case S::kFailed:
        // Approved but never completed: PayPal takes no money until we capture, and a failed
        // slip is never captured, so it is as closed as it will get.
        case S::kApproved:
            store::ConfirmClosed(ctx.db(), slip.id);
            detail = "closed at the provider";
            return FailedSlipCheck::kConfirmedClosed;
        // Not found is not closed everywhere: Alipay's query does not know a precreated code
        // nobody has scanned, which stays payable until it is cancelled. A close makes it final
        // (Alipay: close, then the cancel that records it closed; WeChat answers ORDERNOTEXIST,
        // which counts as closed; PayPal's is ours alone).
        case S::kNotFound:
        // Scanned and not yet paid (Alipay WAIT_BUYER_PAY) is as open as unpaid.
        case S::kPaying:
        case S::kNotPaid: {
            // Closed again, so it can never take money. An open one is confirmed by the next
            // query; for one the provider does not know, the close is all the confirmation there is.
            bool first = false;
            providers::CloseResult c = CloseSlip(ctx, *p, *m, slip, &first);
            if (!c.reversed_txn.empty()) {
                detail = "paid while being closed again, and refunded by the provider";
                return first ? FailedSlipCheck::kPaid : FailedSlipCheck::kPaidMeanwhile;
            }
            if (!c.closed) {
                detail = "still open, close failed: " + c.message;
                return FailedSlipCheck::kStillOpen;
            }
            if (q.state == S::kNotFound) {
                store::ConfirmClosed(ctx.db(), slip.id);
                detail = "not known to the provider: closed";
                return FailedSlipCheck::kConfirmedClosed;
            }
            detail = "was still open: closed again";
            return FailedSlipCheck::kStillOpen;
        }
        case S::kUnknown:
            break;
    }
    detail = "provider answer unknown: " + q.message;
    return FailedSlipCheck::kUnknown;
}

VoidedSlipCheck CheckVoidedSlip(Context& ctx, const store::SlipRow& slip, std::int64_t min_age_s,
                                std::string& detail) {
    providers::Provider* p = ctx.ProviderFor(slip.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!p || !m || !slip.provider_txn_id) {
        detail = "no provider, merchant or transaction for slip " + slip.id;
        return VoidedSlipCheck::kUnknown;
    }
    // Refunded in full by operators (OK refunds; ones in flight may yet fail): a void can have
    // taken nothing back, whatever the provider says, and a closed answer would be theirs. The
    // slip is not reversed: a reversed slip turns a later failing refund into the provider's.
    if (store::DropVoidingRefunded(ctx.db(), slip.id, min_age_s)) {
        detail = "refunded in full by operators: the void can have taken nothing";
        return VoidedSlipCheck::kKept;
    }
    store::StampQueried(ctx.db(), slip.id);  // to the back of the queue, answered or not
    providers::QueryResult q = providers::MeteredQuery(*p, *m, slip.id, slip.provider_ref);
    using S = providers::QueryResult::State;
    // Only an answer about the payment we hold decides: one naming no transaction, another one,
    // or another amount (a provider answering wrongly) leaves the slip in the queue.
    const bool ours = !q.txn_id.empty() && q.txn_id == *slip.provider_txn_id;
    if (q.state == S::kPaid && ours) {
        store::DropVoiding(ctx.db(), slip.id, min_age_s);
        detail = "the provider still holds the payment";
        return VoidedSlipCheck::kKept;
    }
    if (q.state == S::kClosed && ours && q.amount == slip.amount) {
        // A trade we hold as paid, closed since: its money went back whole. Alipay closes a paid
        // trade only once all of it is refunded, which its cancel does in one step (TRADE_CLOSED:
        // "未付款交易超时关闭，或支付完成后全额退款"); WeChat's REVOKED is a reversed micropay. An
        // operator's refunds are counted first by orderpay_refund_open: only the rest is recorded.
        bool first = false;
        if (RecordReversal(ctx, slip.provider, slip.id, slip.amount, slip.currency, *slip.provider_txn_id,
                           &first)) {
            if (!first) {
                detail = "closed at the provider after it was paid: recorded meanwhile by another process";
                return VoidedSlipCheck::kReversedMeanwhile;
            }
            detail = "closed at the provider after it was paid: recorded as refunded by the void";
            return VoidedSlipCheck::kReversed;
        }
        detail = "closed at the provider after it was paid, and the refund could not be recorded";
        return VoidedSlipCheck::kUnknown;
    }
    detail = "provider answer: " + (q.message.empty() ? std::string("none") : q.message);
    if ((q.state == S::kPaid || q.state == S::kClosed) && !(ours && q.amount == slip.amount))
        detail += ", for transaction '" + q.txn_id + "' of " + std::to_string(q.amount) + ", not " +
                  *slip.provider_txn_id + " of " + std::to_string(slip.amount);
    return VoidedSlipCheck::kUnknown;
}

}  // namespace orderpay::app

// pay/pay: for an unpaid order, return the live slip; with another pay type, force=true, or a
// slip with no code to pay with (failed, or its code outlived), close the old slip at the
// provider first and issue a new one.
#include "orderpay/app/order_view.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/app/scan_gate.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/orders.hpp"

namespace orderpay::handlers {

namespace {

http::Response Answer(app::Context& ctx, const std::string& site, const std::string& id,
                      std::optional<http::Err> err = std::nullopt) {
    std::string json;
    app::LoadOrder(ctx.db(), site, id, &json);
    return err ? http::Fail(*err, {}, json) : http::Ok(json);
}

// Another request won the order's slip (a concurrent pay/pay, a payment, an expiry): the order as
// it now stands, answered as pay/pay answers it from the start, so a reply never names a slip
// that lost, nor a paid or closed order as one to pay. A scan's 200 means paid to a till: one
// that did not take this buyer's code is 503 scan.busy instead, so the till scans again, never
// hands over goods on it (review s31-105 A1).
http::Response AnswerNow(app::Context& ctx, const std::string& site, const std::string& id, bool scan) {
    std::string json;
    std::optional<store::OrderRecord> now = app::LoadOrder(ctx.db(), site, id, &json);
    if (!now) return http::Fail(http::Err::kNoSuchObject);
    if (domain::IsPaid(now->or_st)) return http::Fail(http::Err::kOrderPaid, {}, json);
    if (now->or_st == domain::OrderState::kFA || now->or_st == domain::OrderState::kRF || now->expired)
        return http::Fail(http::Err::kOrderClosed, {}, json);
    if (scan)
        return http::Fail(http::Err::kScanBusy,
                          "another payment of this order is being issued: scan again in a few seconds", json);
    return http::Ok(json);
}

// A NEW slip whose sender may still be at its provider: closed now, the provider could create it
// after the close, or its sender record a code just closed and hand it out. It may be retired
// only once the resend claim shows its sender gone (buy.resend_after_ms), which also keeps any
// resend away. A scan's provider call is its payment: retiring it voids that (pay/pay's old rule).
// The claim taken, when one was, is left in `claim`.
bool SenderAtWork(app::Context& ctx, const store::SlipRow& live, std::optional<store::ResendClaim>& claim) {
    if (live.st != domain::SlipState::kNew) return false;
    std::optional<app::PayType> pt = app::ParsePayType(live.pay_tp);
    if (pt && pt->kind == providers::PayKind::kScan) return false;
    claim = store::ClaimResend(ctx.db(), live.id, ctx.settings().resend_after_ms);
    return !claim;
}

// Closes `old` at its provider. False when the old slip may still take money (close failed or
// its outcome is unknown): issuing a second slip then could charge the buyer twice.
bool Retire(app::Context& ctx, const store::SlipRow& old, bool& paid_meanwhile) {
    paid_meanwhile = false;
    if (old.Open()) {
        providers::Provider* p = ctx.ProviderFor(old.provider);
        std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), old.merchant_id);
        if (!p || !m) return false;
        providers::CloseResult c = app::CloseSlip(ctx, *p, *m, old);
        if (!c.reversed_txn.empty()) {  // paid and refunded in the close: the order is RF now
            paid_meanwhile = true;
            return false;
        }
        if (c.already_paid) {
            app::RefreshSlip(ctx, old, app::QueryPace::kNow);
            paid_meanwhile = true;
            return false;
        }
        if (!c.closed) return false;
    }
    store::SupersedeSlip(ctx.db(), old.id, "superseded by pay/pay");
    return true;
}

// Best effort on the way out of a throw: the dispatcher answers the first error, not this one.
void GiveBackAfterThrow(app::Context& ctx, const store::ResendClaim& claim) {
    try {
        ctx.db().ResetTransaction();
        store::GiveBackResend(ctx.db(), claim);
    } catch (const std::exception& e) {
        log::Warn("slip ", claim.slip_id, ": resend claim not given back: ", e.what());
    }
}

}  // namespace

http::Response Pay(app::Context& ctx, app::Call& call, const http::Request& req) {
    std::optional<std::string> id = req.Arg("id");
    if (!id || id->empty()) return http::Fail(http::Err::kNilId);
    if (!domain::IsOrderId(*id)) return http::Fail(http::Err::kNoSuchObject);  // cannot exist: no query
    // Anything else (TRUE, yes, on) was once read as false: the buyer kept the old code while
    // the caller believed it had asked for a new one. Empty is absent, like an empty pt.
    const std::string force = req.Arg("force").value_or("");
    if (!force.empty() && force != "true" && force != "1" && force != "false" && force != "0")
        return http::Fail(http::Err::kInvalidField, "force must be true, 1, false or 0");
    const bool forced = force == "true" || force == "1";
    std::optional<store::OrderRecord> order = app::LoadOrder(ctx.db(), call.site.id, *id, nullptr);
    if (!order || order->buyer_id != call.buyer->account_id || order->buyer_store != call.buyer->store_id)
        return http::Fail(http::Err::kNoSuchObject);
    using domain::OrderState;
    if (domain::IsPaid(order->or_st)) return Answer(ctx, call.site.id, order->id, http::Err::kOrderPaid);
    if (order->or_st == OrderState::kFA || order->or_st == OrderState::kRF || order->expired)
        return Answer(ctx, call.site.id, order->id, http::Err::kOrderClosed);

    std::string pt_text = req.Arg("pt").value_or(order->pay_tp);
    if (pt_text.empty()) pt_text = order->pay_tp;
    std::optional<app::PayType> pt = app::ParsePayType(pt_text);
    if (!pt || !ctx.ProviderFor(pt->prefix)) return http::Fail(http::Err::kInvalidPayTp);

    std::optional<store::SlipRow> live = app::CurrentSlip(ctx.db(), *order);
    // Kept only with a code the buyer's views offer (app::CodePayable; the order's expiry was
    // answered above): one its provider no longer honours is retired below like any old slip.
    if (live && !forced && live->pay_tp == pt->full && live->st == domain::SlipState::kWait &&
        live->re_tp != "NONE" && app::CodePayable(*live, false))
        return Answer(ctx, call.site.id, order->id);

    std::optional<providers::Merchant> merchant = store::FindSeller(ctx.db(), call.site.id, pt->prefix);
    if (!merchant) return http::Fail(http::Err::kInvalidPayTp, "the site has no merchant for " + pt->prefix);
    app::PayInputs in{call.buyer->openid, req.Arg("auth_code").value_or(""), req.remote_addr};
    if (auto bad = app::CheckPayInputs(*pt, in)) return http::Fail(bad->err, bad->why);
    if (auto refused = app::CheckCharge(ctx, *pt, order->fee, order->currency))
        return http::Fail(refused->err, refused->why);
    // Before anything is written or sent: a scan refused here leaves the old slip open and no new trade.
    const bool scan = pt->kind == providers::PayKind::kScan;
    std::optional<app::scan_gate::Pass> place =
        scan ? app::scan_gate::Pass::TryTake(ctx.settings().scan_max_waiting) : std::nullopt;
    if (scan && !place) return http::Fail(http::Err::kScanBusy);

    // Being issued by another request: that slip is what the order pays with, whatever was asked.
    std::optional<store::ResendClaim> claim;
    if (live && SenderAtWork(ctx, *live, claim)) return AnswerNow(ctx, call.site.id, order->id, scan);
    if (live) {
        bool paid = false;
        bool retired = false;
        try {
            retired = Retire(ctx, *live, paid);
        } catch (...) {
            // The close threw (a lock wait past db.lock_timeout_ms, a statement refused) with the
            // slip as it was: the claim goes back too, or the next pay/pay would answer that dead
            // slip as being issued for buy.resend_after_ms.
            if (claim) GiveBackAfterThrow(ctx, *claim);
            throw;
        }
        if (!retired) {
            // Its dead sender's slip, still NEW and not closed: kept by the claim, the next pay/pay
            // would answer it as being issued for buy.resend_after_ms, and pay/check would neither
            // ask about it nor send it (review s31-105 A2). Given back, either takes it up at once.
            if (claim) store::GiveBackResend(ctx.db(), *claim);
            // Paid meanwhile; RF when the close refunded that payment (nothing to pay any more).
            if (paid)
                return Answer(ctx, call.site.id, order->id,
                              store::OrderState(ctx.db(), order->id) == domain::OrderState::kRF
                                  ? http::Err::kOrderClosed
                                  : http::Err::kOrderPaid);
            return Answer(ctx, call.site.id, order->id, http::Err::kProvider);
        }
    }
    store::NewSlip slip{crypto::RandomId(26), order->id,    call.site.id, pt->full,
                        pt->prefix,           merchant->id, order->fee,   order->currency};
    // Another pay/pay (or a payment, an expiry) changed the order meanwhile: answer what it is now.
    if (!store::SwapSlip(ctx.db(), slip, order->pay_id)) return AnswerNow(ctx, call.site.id, order->id, scan);
    app::SlipToSend s{
        slip.id,    order->id,       call.site.id,      order->title,
        order->fee, order->currency, order->expi / 1000};  // a new slip never outlives its order
    app::SlipAnswer a = app::SendSlip(ctx, *pt, *merchant, s, in);
    // Another slip paid the order meanwhile: answered as pay/pay answers any paid order, not as
    // a declined payment the buyer should try again.
    if (a.paid_meanwhile) a.err = http::Err::kOrderPaid;
    // Taken by the provider, but no longer the order's to record (an expiry, or a payment, came
    // first): its code is never handed out.
    if (!a.err && a.lost) return AnswerNow(ctx, call.site.id, order->id, scan);
    return a.err ? http::Fail(*a.err, a.msg, a.order_json) : http::Ok(a.order_json);
}

}  // namespace orderpay::handlers

// Slip sending and refreshing. Provider calls happen with no transaction open; each result is
// committed afterwards with conditional UPDATEs, so a crash in between leaves a NEW/WAIT slip
// that pay/check or `orderpay reconcile` resolves with a query.
#include "orderpay/app/payflow.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/store/settle.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::app {

std::optional<PayType> ParsePayType(const std::string& text) {
    using providers::PayKind;
    static const struct {
        const char* name;
        const char* prefix;
        PayKind kind;
    } kTypes[] = {
        {"wx.qrcode", "wx", PayKind::kQrcode}, {"wx.jsapi", "wx", PayKind::kJsapi},
        {"wx.scan", "wx", PayKind::kScan},     {"zfb.qrcode", "zfb", PayKind::kQrcode},
        {"zfb.scan", "zfb", PayKind::kScan},   {"paypal", "paypal", PayKind::kLink},
    };
    for (const auto& t : kTypes)
        if (text == t.name) return PayType{t.name, t.prefix, t.kind};
    return std::nullopt;
}

std::optional<http::Err> CheckPayInputs(const PayType& pt, const PayInputs& in) {
    if (pt.kind == providers::PayKind::kScan) {
        if (in.auth_code.empty()) return http::Err::kNilAuthCode;
        if (in.auth_code.size() > 32) return http::Err::kInvalidField;
        for (char ch : in.auth_code)
            if (ch < '0' || ch > '9') return http::Err::kInvalidField;
    }
    if (pt.kind == providers::PayKind::kJsapi && in.openid.empty()) return http::Err::kNilOpenid;
    return std::nullopt;
}

namespace {

void MarkWaiting(Context& ctx, const SlipToSend& s, const std::string& re_tp, const std::string& re_obj,
                 const std::string& note) {
    db::Tx tx(ctx.db());
    ctx.db().Exec(store::kSlipSetWait, {s.slip_id, re_tp, re_obj, note});
    ctx.db().Exec(store::kOrderSetWaiting, {s.order_id, s.slip_id});
    tx.Commit();
}

}  // namespace

std::optional<http::Err> SendSlip(Context& ctx, const PayType& pt, const providers::Merchant& m,
                                  const SlipToSend& s, const PayInputs& in, std::string& message) {
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
    cp.notify_url = ctx.settings().notify_base_url + "/api/" + s.site_id + "/pay/re_" + pt.prefix;
    cp.expire_epoch_s = s.expire_epoch_s;
    providers::CreateResult r = p->Create(m, cp);
    message = r.message;

    switch (r.outcome) {
        case providers::Outcome::kPending:
            MarkWaiting(ctx, s, r.re_tp, r.re_obj, "");
            return std::nullopt;
        case providers::Outcome::kPaid: {
            MarkWaiting(ctx, s, "NONE", "", "paid at once");
            providers::PaidEvent ev{s.slip_id, r.txn_id, r.paid_amount, r.paid_currency,
                                    m.app_id,  m.mch_id, true,          "SUCCESS"};
            std::string detail;
            store::SettleOutcome o = store::Settle(ctx.db(), ev, detail);
            if (o == store::SettleOutcome::kMismatch || o == store::SettleOutcome::kNoSlip) {
                log::Error("slip ", s.slip_id, ": scan payment not settled: ", detail);
                message = detail;
                return http::Err::kProvider;
            }
            return std::nullopt;
        }
        case providers::Outcome::kFailed:
            ctx.db().Exec(store::kSlipFail, {s.slip_id, r.message});
            log::Warn("slip ", s.slip_id, " failed: ", r.message);
            return pt.kind == providers::PayKind::kScan ? http::Err::kPayFailed : http::Err::kProvider;
        case providers::Outcome::kUnknown:
            // Unknown is never failed: keep WAIT so a query settles it if money moved.
            MarkWaiting(ctx, s, "NONE", "", r.message);
            log::Warn("slip ", s.slip_id, " outcome unknown: ", r.message);
            return http::Err::kProviderTimeout;
    }
    return http::Err::kInternal;
}

bool RefreshSlip(Context& ctx, const store::SlipRow& slip) {
    if (slip.st != "NEW" && slip.st != "WAIT") return false;
    db::Result claim = ctx.db().Exec(store::kSlipClaimQuery, {slip.id, ctx.settings().query_min_interval_ms});
    if (claim.Affected() != 1) return false;  // asked recently, by us or another worker
    providers::Provider* p = ctx.ProviderFor(slip.provider);
    std::optional<providers::Merchant> m = store::FindMerchant(ctx.db(), slip.merchant_id);
    if (!p || !m) return false;
    providers::QueryResult q = p->Query(*m, slip.id);
    using S = providers::QueryResult::State;
    if (q.state == S::kPaid) {
        providers::PaidEvent ev{slip.id,   q.txn_id,  q.amount, q.currency,
                                m->app_id, m->mch_id, true,     "SUCCESS"};
        std::string detail;
        store::SettleOutcome o = store::Settle(ctx.db(), ev, detail);
        log::Info("slip ", slip.id, " queried paid: ", store::ToString(o), " (", detail, ")");
    } else if (q.state == S::kClosed || q.state == S::kFailed) {
        ctx.db().Exec(store::kSlipFail, {slip.id, "provider: " + q.message});
    }
    // kNotFound right after creation is normal for some providers (not scanned yet): no change.
    return true;
}

}  // namespace orderpay::app

// /sim/pay for Alipay trades, /sim/trade's view of them and /sim/return_url: the buyer pays (or
// the trade moves to the status a test asks for), then paysim sends the signed form notification
// with the requested faults.
#include "sim/alipay/control.hpp"

#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "sim/alipay/call.hpp"
#include "sim/alipay/notify.hpp"
#include "sim/alipay/reply.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/gateway.hpp"

namespace orderpay::sim {

namespace {

// One step towards the state a notification of `status` implies: the trade itself when nothing
// has to change, nullopt with `err` set when the step is refused, or with `raced` set when a
// concurrent change made the conditional UPDATE miss.
std::optional<zfb_store::Trade> Step(Ctx& ctx, const zfb_store::Trade& t, std::string_view status, bool force,
                                     bool& raced, http::Response& err) {
    std::optional<zfb_store::Trade> next;
    if (status == "WAIT_BUYER_PAY") return t;  // a stale or early notice: no state change
    if (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED") {
        if (zfb_store::Paid(t)) {
            if (status == "TRADE_SUCCESS" || t.state == "TRADE_FINISHED") return t;
            next = zfb_store::Transition(ctx.db, t.key, {"TRADE_SUCCESS"}, "TRADE_FINISHED");
        } else if (t.state == "TRADE_CLOSED" && !force) {
            err = http::Fail(http::Err::kOrderClosed,
                             "the trade is TRADE_CLOSED; pass force=1 to pay it anyway");
            return std::nullopt;
        } else if (t.state == "TRADE_CLOSED" && t.refunded) {
            err = http::Fail(http::Err::kOrderClosed, "the trade was paid and refunded");
            return std::nullopt;
        } else {
            // Unpaid (a precreated code is scanned and paid in one go) or a late payment (force).
            next = zfb_store::MarkPaid(ctx.db, t.key, t.state, status, NewZfbBuyer());
        }
    } else {  // TRADE_CLOSED
        if (t.state == "TRADE_CLOSED") return t;
        if (t.state == "TRADE_FINISHED") {
            err = http::Fail(http::Err::kOrderPaid, "a TRADE_FINISHED trade can no longer be refunded");
            return std::nullopt;
        }
        // An unpaid trade times out; a paid one is fully refunded.
        next = zfb_store::Transition(ctx.db, t.key, {t.state}, "TRADE_CLOSED", zfb_store::Paid(t));
    }
    raced = !next;
    return next;
}

std::optional<zfb_store::Trade> Settle(Ctx& ctx, zfb_store::Trade t, std::string_view status, bool force,
                                       http::Response& err) {
    auto step = [&ctx, status, force](const zfb_store::Trade& cur, bool& raced, http::Response& refusal) {
        return Step(ctx, cur, status, force, raced, refusal);
    };
    auto reread = [&ctx](const zfb_store::TradeKey& k) { return zfb_store::FindTrade(ctx.db, k); };
    return RetryRaces(std::move(t), step, reread, err);
}

// The simulated Alipay private key of the trade's seller; nullptr with `err` set when gone.
crypto::PKey AlipayKey(Ctx& ctx, const zfb_store::Trade& t, http::Response& err) {
    std::optional<zfb_store::Merchant> m = zfb_store::FindMerchant(ctx.db, t.key.seller_id);
    if (!m) {
        err = http::Fail(http::Err::kNoSuchObject, "the trade's merchant is gone");
        return nullptr;
    }
    return ZfbMerchantKey(*m, true);
}

}  // namespace

std::string ParseZfbPayArgs(const http::FormPairs& form, ZfbPayArgs& out) {
    if (std::string bad = ReadTamperArg(form, kZfbTamperNames, out.tamper); !bad.empty()) return bad;
    if (std::string bad = ReadFlag(form, "charset", {"gbk", "GBK"}, {"utf-8", "UTF-8"},
                                   "charset must be utf-8 or gbk", out.gbk);
        !bad.empty())
        return bad;
    out.subject = http::FormValue(form, "subject");
    if (out.subject && out.subject->empty()) return "subject must not be empty";
    out.trade_status = http::FormValue(form, "trade_status").value_or("");
    if (out.trade_status.empty()) out.trade_status = "TRADE_SUCCESS";
    if (out.trade_status != "TRADE_SUCCESS" && out.trade_status != "TRADE_FINISHED" &&
        out.trade_status != "TRADE_CLOSED" && out.trade_status != "WAIT_BUYER_PAY")
        return "trade_status must be TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED or WAIT_BUYER_PAY";
    return {};
}

http::Response ZfbSimPay(Ctx& ctx, const PayArgs& a, const ZfbPayArgs& z, zfb_store::Trade t) {
    http::Response err;
    const crypto::PKey key = AlipayKey(ctx, t, err);
    if (!key) return err;
    // Refuse a GBK notification before anything changes, not after paying.
    if (z.gbk && !Utf8ToGbk(z.subject.value_or(t.subject)))
        return http::Fail(http::Err::kBadRequest, "the subject has characters GBK cannot encode");
    std::optional<zfb_store::Trade> settled = Settle(ctx, std::move(t), z.trade_status, a.force, err);
    if (!settled) return err;
    // A trade.pay without notify_url gets no notification (nothing to send to).
    const int copies = settled->notify_url.empty() ? 0 : a.times;
    std::optional<zfb_store::Trade> ready =
        zfb_store::PrepareNotify(ctx.db, settled->key, crypto::RandomId(32), copies, NewZfbBuyer());
    if (!ready) return http::Fail(http::Err::kInternal, "the trade is gone");

    Notice n;
    n.out_trade_no = ready->key.out_trade_no;
    n.transaction_id = ready->trade_no.value_or("");
    n.url = ready->notify_url;
    n.content_type = std::string("application/x-www-form-urlencoded; charset=") + (z.gbk ? "GBK" : "utf-8");
    n.copies = copies;
    n.what = "sim/pay zfb " + ready->key.out_trade_no + " " + z.trade_status;
    if (copies > 0) {
        ZfbNotifyOptions o;
        o.trade_status = z.trade_status;
        o.subject = z.subject;
        o.gbk = z.gbk;
        o.now = static_cast<std::int64_t>(std::time(nullptr));
        std::string why;
        std::optional<ZfbParams> params = ZfbNotificationParams(*ready, key, o, why);
        if (!params) return http::Fail(http::Err::kBadRequest, why);
        TamperZfbParams(*params, z.tamper, key);
        n.body = ZfbFormEncode(*params);
    }
    return SendNotice(ctx.opts, n, a.delay_ms);
}

std::string ZfbTradeJson(const zfb_store::Trade& t) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    WriteStrings(w, {{"provider", "zfb"},
                     {"mch_id", t.key.seller_id},
                     {"seller_id", t.key.seller_id},
                     {"out_trade_no", t.key.out_trade_no},
                     {"app_id", t.app_id},
                     {"method", t.method},
                     {"subject", t.subject},
                     {"notify_url", t.notify_url},
                     {"auth_code", t.auth_code},
                     {"scan", t.scan},
                     {"buyer_id", t.buyer_id},
                     {"buyer_logon_id", t.buyer_logon_id},
                     {"state", t.state},
                     {"total_amount", Yuan(t.total_fee)}});
    WriteInts(w, {{"total_fee", t.total_fee}, {"refund_fee", t.refund_total}});
    // What alipay.trade.refund gave back in all: the tests compare it with orderpay's refunds.
    WriteStrings(w, {{"refund_amount", Yuan(t.refund_total)}});
    http::WriteOptString(w, "qr_code", t.qr_code);
    http::WriteOptString(w, "trade_no", t.trade_no);
    http::WriteOptString(w, "transaction_id", t.trade_no);  // the name the WeChat view uses
    w.Key("refunded");
    w.Bool(t.refunded);
    WriteInts(
        w,
        {{"queries", t.queries}, {"cancels", t.cancels}, {"notify_count", t.notify_count}, {"ct", t.ct_ms}});
    http::WriteOptMs(w, "paid_at", t.paid_at);
    http::WriteOptMs(w, "closed_at", t.closed_at);
    w.EndObject();
    return buf.GetString();
}

http::Response ZfbSimRefundNotify(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    PayArgs a;
    if (std::string bad = ParsePayArgs(*form, a); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);
    ZfbTamper tamper = ZfbTamper::kNone;
    if (std::string bad = ReadTamperArg(*form, kZfbTamperNames, tamper); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);
    const std::string request = http::FormValue(*form, "out_request_no").value_or("");
    std::vector<zfb_store::Trade> found = zfb_store::FindTradesByOutTradeNo(ctx.db, a.out_trade_no, a.mch_id);
    if (found.size() != 1)
        return http::Fail(
            found.empty() ? http::Err::kNoSuchObject : http::Err::kBadRequest,
            found.empty() ? "no such zfb trade" : "several sellers have this out_trade_no: give mch_id");
    const zfb_store::Trade& t = found.front();
    std::optional<zfb_store::RefundRecord> r = zfb_store::FindRefund(ctx.db, t.key, request);
    if (!r) return http::Fail(http::Err::kNoSuchObject, "no refund " + request + " of this trade");
    const crypto::PKey key = AlipayKey(ctx, t, err);
    if (!key) return err;
    const int copies = t.notify_url.empty() ? 0 : a.times;
    std::optional<zfb_store::Trade> ready =
        zfb_store::PrepareNotify(ctx.db, t.key, crypto::RandomId(32), copies, NewZfbBuyer());
    if (!ready) return http::Fail(http::Err::kInternal, "the trade is gone");

    Notice n;
    n.out_trade_no = ready->key.out_trade_no;
    n.transaction_id = ready->trade_no.value_or("");
    n.url = ready->notify_url;
    n.content_type = "application/x-www-form-urlencoded; charset=utf-8";
    n.copies = copies;
    n.what = "sim/refund_notify zfb " + ready->key.out_trade_no + " " + request;
    if (copies > 0) {
        ZfbNotifyOptions o;
        o.trade_status = ready->refund_total >= ready->total_fee ? "TRADE_CLOSED" : "TRADE_SUCCESS";
        o.now = static_cast<std::int64_t>(std::time(nullptr));
        o.out_biz_no = request;
        o.refund_total = ready->refund_total;
        o.gmt_refund = r->ct;
        std::string why;
        std::optional<ZfbParams> params = ZfbNotificationParams(*ready, key, o, why);
        if (!params) return http::Fail(http::Err::kBadRequest, why);
        TamperZfbParams(*params, tamper, key);
        n.body = ZfbFormEncode(*params);
    }
    return SendNotice(ctx.opts, n, a.delay_ms);
}

http::Response SimReturnUrl(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<AnyTrade> found = TradeOfQuery(ctx, req, "zfb", err);
    if (!found) return err;
    const std::optional<zfb_store::Trade>& t = found->zfb;
    if (!zfb_store::Paid(*t) || !t->trade_no)
        return http::Fail(http::Err::kBadRequest, "the trade is " + t->state + ", not paid");
    const crypto::PKey key = AlipayKey(ctx, *t, err);
    if (!key) return err;
    const std::string query =
        ZfbFormEncode(ZfbReturnParams(*t, key, static_cast<std::int64_t>(std::time(nullptr))));
    return http::Ok("{\"query\":" + http::JsonString(query) + "}");
}

}  // namespace orderpay::sim

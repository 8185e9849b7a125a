// /sim/refund and /sim/refunds: the refund is found by orderpay's refund id under either
// provider, and its provider's part finishes it and sends the notification.
#include "sim/core/refunds.hpp"

#include <charconv>

#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "sim/core/control.hpp"
#include "sim/core/gateway.hpp"
#include "sim/paypal/control.hpp"
#include "sim/paypal/store.hpp"
#include "sim/wxpay3/refund.hpp"
#include "sim/wxpay3/store.hpp"

namespace orderpay::sim {

namespace {

void WriteRefund(http::JsonWriter& w, const pp_store::Refund& r) {
    w.StartObject();
    WriteStrings(w, {{"provider", "paypal"},
                     {"id", r.id},
                     {"out_refund_no", r.invoice_id},
                     {"status", r.status},
                     {"value", r.value},
                     {"currency", r.currency}});
    WriteInts(w, {{"amount", r.minor}, {"calls", r.calls}, {"notify_count", r.notify_count}});
    w.EndObject();
}

void WriteRefund(http::JsonWriter& w, const wx3_store::Refund& r) {
    w.StartObject();
    WriteStrings(w, {{"provider", "wx"},
                     {"id", r.refund_id},
                     {"out_refund_no", r.out_refund_no},
                     {"status", r.status},
                     {"currency", r.currency}});
    WriteInts(
        w,
        {{"amount", r.refund}, {"calls", r.calls}, {"queries", r.queries}, {"notify_count", r.notify_count}});
    w.EndObject();
}

}  // namespace

std::string ParseSimRefundArgs(const http::FormPairs& form, SimRefundArgs& out) {
    out.out_refund_no = http::FormValue(form, "out_refund_no").value_or("");
    if (!ValidId(out.out_refund_no, 64, "_-")) return "out_refund_no is required (letters, digits, _ -)";
    out.provider = http::FormValue(form, "provider").value_or("");
    if (!out.provider.empty() && out.provider != "paypal" && out.provider != "wx")
        return "provider must be paypal or wx";
    out.status = http::FormValue(form, "status").value_or("");
    if (out.status.size() > 16) return "status is too long";
    if (auto v = http::FormValue(form, "times"); v && !v->empty() && !ParseIntIn(*v, 0, 50, out.times))
        return "times must be 0..50";
    if (auto v = http::FormValue(form, "delay_ms");
        v && !v->empty() && !ParseIntIn(*v, 0, 10000, out.delay_ms))
        return "delay_ms must be 0..10000";
    out.tamper = http::FormValue(form, "tamper").value_or("");
    if (out.tamper.size() > 32) return "tamper is too long";
    return {};
}

http::Response SimRefund(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    SimRefundArgs a;
    if (std::string bad = ParseSimRefundArgs(*form, a); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);
    std::vector<pp_store::Refund> pp;
    std::vector<wx3_store::Refund> wx;
    if (a.provider.empty() || a.provider == "paypal")
        pp = pp_store::RefundsByInvoice(ctx.db, a.out_refund_no);
    if (a.provider.empty() || a.provider == "wx")
        wx = wx3_store::RefundsByOutRefundNo(ctx.db, a.out_refund_no);
    if (pp.size() + wx.size() == 0) return http::Fail(http::Err::kNoSuchObject, "no such refund");
    if (pp.size() + wx.size() > 1)
        return http::Fail(http::Err::kBadRequest, "several refunds carry this out_refund_no; give provider");
    if (!wx.empty()) return Wx3SimRefund(ctx, a, std::move(wx.front()));
    return PpSimRefund(ctx, a, std::move(pp.front()));
}

http::Response SimRefunds(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<AnyTrade> t = TradeOfQuery(ctx, req, "", err);
    if (!t) return err;
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    std::int64_t refunded = 0, pending = 0;
    w.StartObject();
    w.Key("refunds");
    w.StartArray();
    if (t->pp) {
        for (const pp_store::Refund& r : pp_store::RefundsOfOrder(ctx.db, t->pp->id)) {
            refunded += r.status == "COMPLETED" ? r.minor : 0;
            pending += r.status == "PENDING" ? r.minor : 0;
            WriteRefund(w, r);
        }
    }
    if (t->wx) {
        for (const wx3_store::Refund& r :
             wx3_store::RefundsOfTrade(ctx.db, t->wx->key.mch_id, t->wx->key.out_trade_no)) {
            refunded += r.status == "SUCCESS" ? r.refund : 0;
            // ABNORMAL: taken from the merchant, held by WeChat until redirected.
            pending += r.status == "PROCESSING" || r.status == "ABNORMAL" ? r.refund : 0;
            WriteRefund(w, r);
        }
    }
    w.EndArray();
    // Minor units: what went back, and what is promised but not yet back.
    WriteInts(w, {{"refunded", refunded}, {"pending", pending}});
    w.EndObject();
    return http::Ok(buf.GetString());
}

}  // namespace orderpay::sim

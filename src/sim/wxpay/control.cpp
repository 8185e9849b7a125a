// /sim/pay for WeChat trades and /sim/trade's view of them: the buyer pays, then paysim sends
// the signed v2 notification with the requested tamper.
#include "sim/wxpay/control.hpp"

#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "sim/core/deliver.hpp"
#include "sim/wxpay/notify.hpp"

namespace orderpay::sim {

namespace {

// Brings the trade to SUCCESS (once; a paid trade stays as it is, so a resend is identical).
std::optional<wx_store::Trade> EnsurePaid(Ctx& ctx, wx_store::Trade t, bool force, http::Response& err) {
    auto step = [&ctx, force](const wx_store::Trade& cur, bool& raced,
                              http::Response& refusal) -> std::optional<wx_store::Trade> {
        if (cur.state == "SUCCESS") return cur;
        const bool final_state = cur.state == "CLOSED" || cur.state == "REVOKED" || cur.state == "PAYERROR";
        if (final_state && !force) {
            refusal = http::Fail(http::Err::kOrderClosed,
                                 "the trade is " + cur.state + "; pass force=1 to pay it anyway");
            return std::nullopt;
        }
        std::optional<wx_store::Trade> paid =
            wx_store::MarkPaid(ctx.db, cur.key, cur.state, "o" + crypto::RandomId(27));
        raced = !paid;
        return paid;
    };
    auto reread = [&ctx](const wx_store::TradeKey& k) { return wx_store::FindTrade(ctx.db, k); };
    return RetryRaces(std::move(t), step, reread, err);
}

}  // namespace

std::string ParseWxPayArgs(const http::FormPairs& form, WxPayArgs& out, bool v3) {
    return v3 ? ReadTamperArg(form, kWx3TamperNames, out.tamper3)
              : ReadTamperArg(form, kTamperNames, out.tamper);
}

bool IsWx3Trade(Ctx& ctx, const wx_store::Trade& t) {
    std::optional<wx_store::Merchant> m = wx_store::FindMerchant(ctx.db, t.key.provider, t.key.mch_id);
    return m && AsWx3Merchant(*m).has_value();
}

http::Response WxSimPay(Ctx& ctx, const PayArgs& a, const WxPayArgs& w, wx_store::Trade t) {
    std::optional<wx_store::Merchant> m = wx_store::FindMerchant(ctx.db, t.key.provider, t.key.mch_id);
    if (!m) return http::Fail(http::Err::kNoSuchObject, "the trade's merchant is gone");
    http::Response err;
    std::optional<wx_store::Trade> paid = EnsurePaid(ctx, std::move(t), a.force, err);
    if (!paid) return err;
    // A micropay trade has no notify_url: paying it (the buyer finally confirmed) sends nothing.
    const int copies = paid->notify_url.empty() ? 0 : a.times;
    std::optional<wx_store::Trade> ready =
        wx_store::PrepareNotify(ctx.db, paid->key, crypto::RandomId(32), copies);
    if (!ready) return http::Fail(http::Err::kInternal, "the trade changed state while paying");

    Notice n;
    n.out_trade_no = ready->key.out_trade_no;
    n.transaction_id = ready->transaction_id.value_or("");
    n.url = ready->notify_url;
    n.content_type = "text/xml";
    n.copies = copies;
    n.what = "sim/pay " + ready->key.out_trade_no;
    if (std::optional<Wx3Merchant> m3 = AsWx3Merchant(*m)) {
        n.content_type = "application/json";
        if (copies > 0) {
            Wx3Notice v3 = BuildWx3Notice(*m3, *ready, w.tamper3, std::time(nullptr));
            n.body = std::move(v3.body);
            n.headers = std::move(v3.headers);
        }
    } else if (copies > 0) {
        const wxpay::SignType type = wxpay::ParseSignType(ready->sign_type).value_or(wxpay::SignType::kMd5);
        n.body = TamperedBody(NotificationFields(*ready, *m), w.tamper, m->api_key, type);
    }
    return SendNotice(ctx.opts, n, a.delay_ms);
}

std::string WxTradeJson(const wx_store::Trade& t) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    WriteStrings(w, {{"provider", t.key.provider},
                     {"mch_id", t.key.mch_id},
                     {"out_trade_no", t.key.out_trade_no},
                     {"app_id", t.app_id},
                     {"trade_type", t.trade_type},
                     {"fee_type", t.fee_type},
                     {"sign_type", t.sign_type},
                     {"body", t.body},
                     {"attach", t.attach},
                     {"notify_url", t.notify_url},
                     {"product_id", t.product_id},
                     {"openid", t.openid},
                     {"auth_code", t.auth_code},
                     {"scan", t.scan},
                     {"state", t.state}});
    WriteInts(w, {{"total_fee", t.total_fee}});
    http::WriteOptString(w, "prepay_id", t.prepay_id);
    http::WriteOptString(w, "code_url", t.code_url);
    http::WriteOptString(w, "transaction_id", t.transaction_id);
    WriteInts(w, {{"queries", t.queries}, {"notify_count", t.notify_count}, {"ct", t.ct_ms}});
    http::WriteOptMs(w, "paid_at", t.paid_at);
    http::WriteOptString(w, "time_end",
                         t.paid_at ? std::optional<std::string>(TimeEnd(*t.paid_at)) : std::nullopt);
    w.EndObject();
    return buf.GetString();
}

}  // namespace orderpay::sim

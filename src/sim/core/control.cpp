// /sim/pay and /sim/trade: the tests' hands on paysim. /sim/pay plays the buyer paying (or the
// gateway re-sending), then delivers the signed notification with the requested faults.
#include "sim/core/control.hpp"

#include <charconv>
#include <chrono>
#include <thread>

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "sim/alipay/control.hpp"
#include "sim/alipay/store.hpp"
#include "sim/wxpay/notify.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

namespace {

constexpr int kMaxTimes = 50;
constexpr int kMaxDelayMs = 10000;

bool ParseIntIn(const std::string& text, int lo, int hi, int& out) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) return false;
    out = v;
    return true;
}

// One trade of either provider: exactly one of the two is set.
struct AnyTrade {
    std::optional<store::Trade> wx;
    std::optional<zfb_store::Trade> zfb;
};

// The trade named by out_trade_no (and provider, mch_id when given), looked up under every
// provider unless one is named; on nullopt `err` is the reply.
std::optional<AnyTrade> LookupTrade(Ctx& ctx, const std::string& out_trade_no, const std::string& provider,
                                    const std::string& mch_id, http::Response& err) {
    std::vector<store::Trade> wx;
    std::vector<zfb_store::Trade> zfb;
    if (provider.empty() || provider == "wx") {
        if (!mch_id.empty()) {
            if (auto t = store::FindTrade(ctx.db, {"wx", mch_id, out_trade_no})) wx.push_back(std::move(*t));
        } else {
            wx = store::FindTradesByOutTradeNo(ctx.db, "wx", out_trade_no);
        }
    }
    if (provider.empty() || provider == "zfb") {
        if (!mch_id.empty()) {
            if (auto t = zfb_store::FindTrade(ctx.db, {mch_id, out_trade_no})) zfb.push_back(std::move(*t));
        } else {
            zfb = zfb_store::FindTradesByOutTradeNo(ctx.db, out_trade_no);
        }
    }
    if (wx.size() + zfb.size() == 0) {
        err = http::Fail(http::Err::kNoSuchObject, "no such trade");
        return std::nullopt;
    }
    if (wx.size() + zfb.size() > 1) {
        err = http::Fail(http::Err::kBadRequest,
                         "several merchants have this out_trade_no; give mch_id (and provider)");
        return std::nullopt;
    }
    AnyTrade found;
    if (!wx.empty()) found.wx = std::move(wx.front());
    if (!zfb.empty()) found.zfb = std::move(zfb.front());
    return found;
}

// Brings the trade to SUCCESS (once; a paid trade stays as it is, so a resend is identical).
// A concurrent change of state is met by reading the row again.
std::optional<store::Trade> EnsurePaid(Ctx& ctx, store::Trade t, bool force, http::Response& err) {
    for (int attempt = 0; attempt < 5 && t.state != "SUCCESS"; ++attempt) {
        const bool final_state = t.state == "CLOSED" || t.state == "REVOKED" || t.state == "PAYERROR";
        if (final_state && !force) {
            err = http::Fail(http::Err::kOrderClosed,
                             "the trade is " + t.state + "; pass force=1 to pay it anyway");
            return std::nullopt;
        }
        if (auto paid = store::MarkPaid(ctx.db, t.key, t.state, "o" + crypto::RandomId(27))) return paid;
        auto again = store::FindTrade(ctx.db, t.key);
        if (!again) break;
        t = std::move(*again);
    }
    if (t.state == "SUCCESS") return t;
    err = http::Fail(http::Err::kInternal, "the trade kept changing state");
    return std::nullopt;
}

}  // namespace

std::string PayReplyJson(std::string_view out_trade_no, std::string_view transaction_id, int sent,
                         const std::vector<Delivery>& replies) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    w.Key("out_trade_no");
    w.String(out_trade_no.data(), static_cast<rapidjson::SizeType>(out_trade_no.size()));
    w.Key("transaction_id");
    w.String(transaction_id.data(), static_cast<rapidjson::SizeType>(transaction_id.size()));
    w.Key("sent");
    w.Int(sent);
    w.Key("replies");
    w.StartArray();
    for (const Delivery& d : replies) {
        w.StartObject();
        w.Key("status");
        w.Int64(d.status);
        w.Key("body");
        w.String(d.body);
        if (!d.error.empty()) {
            w.Key("error");
            w.String(d.error);
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

namespace {

std::string PayReply(const store::Trade& t, int sent, const std::vector<Delivery>& replies) {
    return PayReplyJson(t.key.out_trade_no, t.transaction_id.value_or(""), sent, replies);
}

std::string TradeJson(const store::Trade& t) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    const std::pair<const char*, const std::string*> strings[] = {
        {"provider", &t.key.provider},
        {"mch_id", &t.key.mch_id},
        {"out_trade_no", &t.key.out_trade_no},
        {"app_id", &t.app_id},
        {"trade_type", &t.trade_type},
        {"fee_type", &t.fee_type},
        {"sign_type", &t.sign_type},
        {"body", &t.body},
        {"attach", &t.attach},
        {"notify_url", &t.notify_url},
        {"product_id", &t.product_id},
        {"openid", &t.openid},
        {"auth_code", &t.auth_code},
        {"scan", &t.scan},
        {"state", &t.state},
    };
    for (const auto& [k, v] : strings) {
        w.Key(k);
        w.String(*v);
    }
    w.Key("total_fee");
    w.Int64(t.total_fee);
    http::WriteOptString(w, "prepay_id", t.prepay_id);
    http::WriteOptString(w, "code_url", t.code_url);
    http::WriteOptString(w, "transaction_id", t.transaction_id);
    w.Key("queries");
    w.Int(t.queries);
    w.Key("notify_count");
    w.Int(t.notify_count);
    w.Key("ct");
    w.Int64(t.ct_ms);
    http::WriteOptMs(w, "paid_at", t.paid_at);
    http::WriteOptString(w, "time_end",
                         t.paid_at ? std::optional<std::string>(TimeEnd(*t.paid_at)) : std::nullopt);
    w.EndObject();
    return buf.GetString();
}

}  // namespace

std::optional<http::FormPairs> SimArguments(const http::Request& req) {
    http::FormPairs all;
    if (!req.body.empty()) {
        auto body = http::ParseForm(req.body);
        if (!body) return std::nullopt;
        all = std::move(*body);
    }
    if (!req.query_ok) return std::nullopt;
    all.insert(all.end(), req.query.begin(), req.query.end());
    return all;
}

std::string ParseCommonPayArgs(const http::FormPairs& form, PayArgs& out) {
    out.out_trade_no = http::FormValue(form, "out_trade_no").value_or("");
    if (out.out_trade_no.empty()) return "out_trade_no is required";
    out.provider = http::FormValue(form, "provider").value_or("");
    if (!out.provider.empty() && out.provider != "wx" && out.provider != "zfb")
        return "provider must be wx or zfb";
    out.mch_id = http::FormValue(form, "mch_id").value_or("");
    if (auto v = http::FormValue(form, "times"); v && !v->empty() && !ParseIntIn(*v, 1, kMaxTimes, out.times))
        return "times must be 1..50";
    if (auto v = http::FormValue(form, "delay_ms");
        v && !v->empty() && !ParseIntIn(*v, 0, kMaxDelayMs, out.delay_ms))
        return "delay_ms must be 0..10000";
    const std::string force = http::FormValue(form, "force").value_or("");
    if (force == "1" || force == "true") {
        out.force = true;
    } else if (force.empty() || force == "0" || force == "false") {
        out.force = false;
    } else {
        return "force must be 0 or 1";
    }
    return {};
}

std::string ParsePayArgs(const http::FormPairs& form, PayArgs& out) {
    if (std::string bad = ParseCommonPayArgs(form, out); !bad.empty()) return bad;
    auto tamper = ParseTamper(http::FormValue(form, "tamper").value_or(""));
    if (!tamper) return "tamper must be one of sign, amount, amount_resigned, doctype, appid";
    out.tamper = *tamper;
    return {};
}

http::Response SimPay(Ctx& ctx, const http::Request& req) {
    if (req.method != "POST") return http::Fail(http::Err::kMethodNotAllowed);
    auto form = SimArguments(req);
    if (!form) return http::Fail(http::Err::kBadQuery);
    PayArgs a;
    if (std::string bad = ParseCommonPayArgs(*form, a); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);

    http::Response err;
    std::optional<AnyTrade> found = LookupTrade(ctx, a.out_trade_no, a.provider, a.mch_id, err);
    if (!found) return err;
    if (found->zfb) {
        ZfbPayArgs z;
        if (std::string bad = ParseZfbPayArgs(*form, z); !bad.empty())
            return http::Fail(http::Err::kBadRequest, bad);
        return ZfbSimPay(ctx, a, z, std::move(*found->zfb));
    }
    if (std::string bad = ParsePayArgs(*form, a); !bad.empty())
        return http::Fail(http::Err::kBadRequest, bad);
    std::optional<store::Trade> t = std::move(found->wx);
    std::optional<store::Merchant> m = store::FindMerchant(ctx.db, t->key.provider, t->key.mch_id);
    if (!m) return http::Fail(http::Err::kNoSuchObject, "the trade's merchant is gone");
    t = EnsurePaid(ctx, std::move(*t), a.force, err);
    if (!t) return err;
    // A micropay trade has no notify_url: paying it (the buyer finally confirmed) sends nothing.
    const int copies = t->notify_url.empty() ? 0 : a.times;
    t = store::PrepareNotify(ctx.db, t->key, crypto::RandomId(32), copies);
    if (!t) return http::Fail(http::Err::kInternal, "the trade changed state while paying");
    if (copies == 0) return http::Ok(PayReply(*t, 0, {}));

    const wxpay::SignType type = wxpay::ParseSignType(t->sign_type).value_or(wxpay::SignType::kMd5);
    const std::string body = TamperedBody(NotificationFields(*t, *m), a.tamper, m->api_key, type);
    if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
    std::vector<Delivery> replies = DeliverConcurrently(
        t->notify_url, body, copies, ctx.opts.notify_connect_ms, ctx.opts.notify_timeout_ms);
    std::string statuses;
    for (const Delivery& d : replies) statuses += (statuses.empty() ? "" : ",") + std::to_string(d.status);
    log::Info("sim/pay ", t->key.out_trade_no, ": ", copies, " notification(s) to ", t->notify_url, " -> ",
              statuses);
    return http::Ok(PayReply(*t, copies, replies));
}

http::Response SimTrade(Ctx& ctx, const http::Request& req) {
    if (req.method != "GET") return http::Fail(http::Err::kMethodNotAllowed);
    if (!req.query_ok) return http::Fail(http::Err::kBadQuery);
    const std::string out_trade_no = req.Arg("out_trade_no").value_or("");
    if (out_trade_no.empty()) return http::Fail(http::Err::kBadRequest, "out_trade_no is required");
    const std::string provider = req.Arg("provider").value_or("");
    if (!provider.empty() && provider != "wx" && provider != "zfb")
        return http::Fail(http::Err::kBadRequest, "provider must be wx or zfb");
    http::Response err;
    std::optional<AnyTrade> t = LookupTrade(ctx, out_trade_no, provider, req.Arg("mch_id").value_or(""), err);
    if (!t) return err;
    return http::Ok(t->zfb ? ZfbTradeJson(*t->zfb) : TradeJson(*t->wx));
}

}  // namespace orderpay::sim

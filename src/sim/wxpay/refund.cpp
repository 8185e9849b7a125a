// WeChat Pay v2 refunds at paysim: /secapi/pay/refund (the merchant's client certificate, as
// nginx verified it, must carry its mch_id as CN), /pay/refundquery, and the control API.
#include "sim/wxpay/refund.hpp"

#include <charconv>
#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/wxpay/refund.hpp"
#include "sim/core/control.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/gateway.hpp"
#include "sim/wxpay/refund_store.hpp"

namespace orderpay::sim {

namespace {

using wx_refund_store::Refund;

// Money the refund took from the trade: not closed (CHANGE is held by WeChat until redirected).
// The refund store's insert counts the same states in SQL.
bool Taken(const Refund& r) {
    return r.state == "PROCESSING" || r.state == "SUCCESS" || r.state == "CHANGE";
}

constexpr int kMaxTimes = 50;
constexpr int kMaxDelayMs = 10000;

// "yyyy-MM-dd HH:mm:ss" in Beijing time, as refund_success_time and success_time are written.
std::string WxDateTime(std::int64_t epoch_s) {
    const std::time_t t = static_cast<std::time_t>(epoch_s + 8 * 3600);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

// The fields of one refund in /secapi/pay/refund's answer.
http::XmlFields RefundAnswer(const Refund& r, const std::string& transaction_id) {
    return {{"transaction_id", transaction_id},
            {"out_trade_no", r.out_trade_no},
            {"out_refund_no", r.out_refund_no},
            {"refund_id", r.refund_id},
            {"refund_fee", std::to_string(r.refund_fee)},
            {"settlement_refund_fee", std::to_string(r.refund_fee)},
            {"total_fee", std::to_string(r.total_fee)},
            {"settlement_total_fee", std::to_string(r.total_fee)},
            {"fee_type", "CNY"},
            {"cash_fee", std::to_string(r.total_fee)},
            {"cash_refund_fee", std::to_string(r.refund_fee)}};
}

// The decrypted part of a refund notification: <root> with WeChat's fields.
std::string ReqInfoXml(const Refund& r, const std::string& transaction_id) {
    http::XmlFields f{{"out_refund_no", r.out_refund_no},
                      {"out_trade_no", r.out_trade_no},
                      {"refund_account", "REFUND_SOURCE_RECHARGE_FUNDS"},
                      {"refund_fee", std::to_string(r.refund_fee)},
                      {"refund_id", r.refund_id},
                      {"refund_recv_accout", "支付用户的零钱"},
                      {"refund_request_source", "API"},
                      {"refund_status", r.state},
                      {"settlement_refund_fee", std::to_string(r.refund_fee)},
                      {"settlement_total_fee", std::to_string(r.total_fee)},
                      {"total_fee", std::to_string(r.total_fee)},
                      {"transaction_id", transaction_id}};
    if (r.success_at) f["success_time"] = WxDateTime(*r.success_at);
    std::string xml = http::BuildFlatXml(f);
    // BuildFlatXml writes <xml>...</xml>; the refund's plaintext root is <root>.
    return "<root>" + xml.substr(5, xml.size() - 11) + "</root>";
}

}  // namespace

std::string ClientCertCn(std::string_view dn) {
    // RFC 2253 order, e.g. "CN=1900000109,OU=...,O=...": the CN of a merchant certificate is
    // the mch_id (digits), so no escaped commas to deal with.
    std::size_t at = 0;
    while (at < dn.size()) {
        std::size_t end = dn.find(',', at);
        if (end == std::string_view::npos) end = dn.size();
        std::string_view part = dn.substr(at, end - at);
        if (part.substr(0, 3) == "CN=") return std::string(part.substr(3));
        at = end + 1;
    }
    return {};
}

bool CheckClientCert(const http::Request& req, const WxCall& call, http::Response& reply) {
    if (req.client_cert_dn.empty()) {
        reply = WxReturnFail("证书验证失败: 请求未携带商户API证书");
        return false;
    }
    if (ClientCertCn(req.client_cert_dn) != call.merchant.mch_id) {
        reply = WxReturnFail("证书验证失败: 证书不属于商户号 " + call.merchant.mch_id);
        return false;
    }
    return true;
}

http::Response WxRefund(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call =
        OpenWxCall(ctx, req, {"appid", "nonce_str", "out_refund_no", "total_fee", "refund_fee"}, reply);
    if (!call) return reply;
    if (!CheckClientCert(req, *call, reply)) return reply;
    Refund want;
    want.mch_id = call->merchant.mch_id;
    want.out_refund_no = call->Field("out_refund_no");
    want.out_trade_no = call->Field("out_trade_no");
    if (want.out_trade_no.empty()) return WxReturnFail("out_trade_no和transaction_id不能同时为空");
    if (!ValidId(want.out_refund_no, 64, "_-|*@")) return WxReturnFail("out_refund_no参数格式错误");
    if (!ParseFen(call->Field("total_fee"), want.total_fee)) return WxReturnFail("total_fee参数格式错误");
    if (!ParseFen(call->Field("refund_fee"), want.refund_fee)) return WxReturnFail("refund_fee参数格式错误");
    if (const std::string& ft = call->Field("refund_fee_type"); !ft.empty() && ft != "CNY")
        return WxReturnFail("refund_fee_type参数格式错误");
    want.refund_desc = call->Field("refund_desc");
    if (want.refund_desc.size() > 80) return WxReturnFail("refund_desc参数格式错误");
    want.notify_url = call->Field("notify_url");
    if (!want.notify_url.empty() && !ValidNotifyUrl(want.notify_url))
        return WxReturnFail("notify_url参数格式错误");
    want.notify_nonce = crypto::RandomId(32);

    using O = wx_refund_store::Asked::Outcome;
    wx_refund_store::Asked a = wx_refund_store::AskRefund(ctx.db, want);
    switch (a.outcome) {
        case O::kNoTrade:
            return WxBizFail(*call, "ORDERNOTEXIST", "订单不存在");
        case O::kNotPaid:
            return WxBizFail(*call, "TRADE_STATE_ERROR", "订单状态错误");
        case O::kTotalFee:
            return WxBizFail(*call, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试");
        case O::kRefusedKnob:
            return WxBizFail(*call, "NOTENOUGH", "基本账户余额不足，请充值后重新发起");
        case O::kTooMuch:
            return WxBizFail(*call, "INVALID_REQUEST", "退款金额大于支付金额");
        case O::kExisting:
            // The same refund asked again answers as before; another one under its number is refused.
            if (a.refund->out_trade_no != want.out_trade_no || a.refund->refund_fee != want.refund_fee)
                return WxBizFail(*call, "INVALID_REQUEST", "out_refund_no已存在且参数不一致");
            break;
        case O::kCreated:
            break;
    }
    // The caller gives up before this answer and must find the refund by refundquery.
    if (a.outcome == O::kCreated && a.mode == "timeout") SleepPastCallerTimeout();
    return WxOk(*call, RefundAnswer(*a.refund, a.transaction_id));
}

http::Response WxRefundQuery(Ctx& ctx, const http::Request& req) {
    http::Response reply;
    auto call = OpenWxCall(ctx, req, {"appid", "nonce_str"}, reply);
    if (!call) return reply;
    const std::string& mch = call->merchant.mch_id;
    std::vector<Refund> found;
    if (const std::string& id = call->Field("refund_id"); !id.empty()) {
        if (auto r = wx_refund_store::FindById(ctx.db, mch, id)) found.push_back(*r);
    } else if (const std::string& no = call->Field("out_refund_no"); !no.empty()) {
        if (auto r = wx_refund_store::Find(ctx.db, mch, no)) found.push_back(*r);
    } else {
        std::optional<wx_store::TradeKey> key = FindKey(ctx, *call, reply);
        if (!key) return reply;
        found = wx_refund_store::OfTrade(ctx.db, mch, key->out_trade_no);
    }
    if (found.empty()) return WxBizFail(*call, "REFUNDNOTEXIST", "退款订单查询失败");
    std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, {"wx", mch, found.front().out_trade_no});
    http::XmlFields out{{"out_trade_no", found.front().out_trade_no},
                        {"transaction_id", t ? t->transaction_id.value_or("") : ""},
                        {"total_fee", std::to_string(found.front().total_fee)},
                        {"cash_fee", std::to_string(found.front().total_fee)},
                        {"refund_count", std::to_string(found.size())}};
    std::int64_t refunded = 0;
    for (std::size_t i = 0; i < found.size(); ++i) {
        const Refund& r = found[i];
        const std::string n = std::to_string(i);
        out["out_refund_no_" + n] = r.out_refund_no;
        out["refund_id_" + n] = r.refund_id;
        out["refund_channel_" + n] = "ORIGINAL";
        out["refund_fee_" + n] = std::to_string(r.refund_fee);
        out["settlement_refund_fee_" + n] = std::to_string(r.refund_fee);
        out["refund_status_" + n] = r.state;
        out["refund_account_" + n] = "REFUND_SOURCE_RECHARGE_FUNDS";
        out["refund_recv_accout_" + n] = "支付用户的零钱";
        if (r.success_at) out["refund_success_time_" + n] = WxDateTime(*r.success_at);
        if (Taken(r)) refunded += r.refund_fee;
    }
    out["refund_fee"] = std::to_string(refunded);
    // Test knob: a refund whose refund_desc has "sim:lie-currency" makes the answer claim its
    // amounts are in USD (WeChat's default, CNY, is otherwise left unsaid as it does).
    for (const Refund& r : found)
        if (r.refund_desc.find("sim:lie-currency") != std::string::npos) out["refund_fee_type"] = "USD";
    return WxOk(*call, std::move(out));
}

http::Response SimWxRefundMode(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    const std::string out_trade_no = http::FormValue(*form, "out_trade_no").value_or("");
    const std::string mch_id = http::FormValue(*form, "mch_id").value_or("");
    const std::string mode = http::FormValue(*form, "mode").value_or("");
    if (out_trade_no.empty() || mch_id.empty())
        return http::Fail(http::Err::kBadRequest, "out_trade_no and mch_id are required");
    if (mode != "" && mode != "fail" && mode != "timeout")
        return http::Fail(http::Err::kBadRequest, "mode must be '', fail or timeout");
    if (!wx_refund_store::SetMode(ctx.db, mch_id, out_trade_no, mode))
        return http::Fail(http::Err::kNoSuchObject, "no such trade");
    return http::Ok("{\"out_trade_no\":" + http::JsonString(out_trade_no) +
                    ",\"mode\":" + http::JsonString(mode) + "}");
}

http::Response SimWxRefundNotify(Ctx& ctx, const http::Request& req) {
    http::Response err;
    std::optional<http::FormPairs> form = ControlForm(req, err);
    if (!form) return err;
    const std::string no = http::FormValue(*form, "out_refund_no").value_or("");
    const std::string mch_id = http::FormValue(*form, "mch_id").value_or("");
    const std::string status = http::FormValue(*form, "status").value_or("SUCCESS");
    const std::string tamper = http::FormValue(*form, "tamper").value_or("");
    int times = 1, delay_ms = 0;
    if (no.empty() || mch_id.empty())
        return http::Fail(http::Err::kBadRequest, "out_refund_no and mch_id are required");
    if (status != "SUCCESS" && status != "REFUNDCLOSE" && status != "CHANGE")
        return http::Fail(http::Err::kBadRequest, "status must be SUCCESS, REFUNDCLOSE or CHANGE");
    if (tamper != "" && tamper != "key" && tamper != "truncate")
        return http::Fail(http::Err::kBadRequest, "tamper must be key or truncate");
    if (auto v = http::FormValue(*form, "times"); v && !v->empty() && !ParseIntIn(*v, 0, kMaxTimes, times))
        return http::Fail(http::Err::kBadRequest, "times must be 0..50");
    if (auto v = http::FormValue(*form, "delay_ms");
        v && !v->empty() && !ParseIntIn(*v, 0, kMaxDelayMs, delay_ms))
        return http::Fail(http::Err::kBadRequest, "delay_ms must be 0..10000");
    std::optional<wx_store::Merchant> m = wx_store::FindMerchant(ctx.db, "wx", mch_id);
    if (!m) return http::Fail(http::Err::kNoSuchObject, "no such merchant");
    std::optional<Refund> r = wx_refund_store::Finish(ctx.db, mch_id, no, status, times);
    if (!r) {
        std::optional<Refund> have = wx_refund_store::Find(ctx.db, mch_id, no);
        if (!have) return http::Fail(http::Err::kNoSuchObject, "no such refund");
        return http::Fail(http::Err::kBadRequest, "the refund is " + have->state + " already");
    }
    std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, {"wx", mch_id, r->out_trade_no});
    const std::string txn = t ? t->transaction_id.value_or("") : "";
    const std::string plain = ReqInfoXml(*r, txn);
    std::string req_info;
    if (tamper == "key") {
        // Encrypted with a key that is not the merchant's: only a forger would send this.
        req_info = wxpay::EncryptReqInfo(crypto::RandomId(32), plain);
    } else {
        req_info = wxpay::EncryptReqInfo(m->api_key, plain);
        if (tamper == "truncate") req_info.resize(req_info.size() - 4);
    }
    Notice n;
    n.out_trade_no = r->out_trade_no;
    n.transaction_id = txn;
    n.url = r->notify_url;
    n.content_type = "text/xml";
    n.copies = r->notify_url.empty() ? 0 : times;
    n.what = "sim/wx/refund_notify " + r->out_refund_no;
    // The real one: return_code, appid, mch_id, nonce_str and req_info, and no sign.
    n.body = http::BuildFlatXml({{"return_code", "SUCCESS"},
                                 {"appid", m->app_id},
                                 {"mch_id", m->mch_id},
                                 {"nonce_str", r->notify_nonce},
                                 {"req_info", req_info}});
    return SendNotice(ctx.opts, n, delay_ms);
}

http::Response SimWxRefunds(Ctx& ctx, const http::Request& req) {
    if (req.method != "GET") return http::Fail(http::Err::kMethodNotAllowed);
    if (!req.query_ok) return http::Fail(http::Err::kBadQuery);
    const std::string out_trade_no = req.Arg("out_trade_no").value_or("");
    if (out_trade_no.empty()) return http::Fail(http::Err::kBadRequest, "out_trade_no is required");
    std::vector<Refund> all = wx_refund_store::OfTrade(ctx.db, req.Arg("mch_id").value_or(""), out_trade_no);
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    std::int64_t refunded = 0;
    for (const Refund& r : all)
        if (Taken(r)) refunded += r.refund_fee;
    WriteStrings(w, {{"out_trade_no", out_trade_no}});
    WriteInts(w, {{"refunded", refunded}});
    w.Key("refunds");
    w.StartArray();
    for (const Refund& r : all) {
        w.StartObject();
        WriteStrings(w, {{"mch_id", r.mch_id},
                         {"out_refund_no", r.out_refund_no},
                         {"refund_id", r.refund_id},
                         {"state", r.state},
                         {"refund_desc", r.refund_desc},
                         {"notify_url", r.notify_url}});
        WriteInts(
            w, {{"refund_fee", r.refund_fee}, {"total_fee", r.total_fee}, {"notify_count", r.notify_count}});
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return http::Ok(buf.GetString());
}

}  // namespace orderpay::sim

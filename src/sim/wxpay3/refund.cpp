// paysim's WeChat Pay v3 refunds, strict where WeChat is: a paid trade of the caller's, the
// total equal to what the trade was paid, out_refund_no idempotency (the same number answers the
// same refund; with another trade it is refused), and never more refunded than paid (400
// INVALID_REQUEST). Refunds start PROCESSING, as WeChat's mostly do; /sim/refund finishes them
// and sends the notification. Knobs ride in reason, the field orderpay fills from the operator's
// reason: "sim:fail" is refused (403 NOT_ENOUGH), "sim:unknown" is refunded at once (SUCCESS)
// but answered 500 SYSTEM_ERROR, "sim:success" is SUCCESS at once, "sim:timeout" is refunded at
// once (SUCCESS) but answered only after orderpay's HTTP timeout.
#include "sim/wxpay3/refund.hpp"

#include <ctime>
#include <random>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/common.hpp"
#include "sim/core/control.hpp"
#include "sim/core/deliver.hpp"
#include "sim/core/gateway.hpp"
#include "sim/wxpay/call.hpp"
#include "sim/wxpay/notify.hpp"

namespace orderpay::sim {

namespace {

constexpr std::size_t kReasonMax = 80;  // characters

// WeChat's refund ids: 50, the date and time, and digits (29 in all).
std::string NewRefundId() {
    std::random_device rd;
    std::string id = "50" + TimeEnd(std::time(nullptr));
    while (id.size() < 29) id += static_cast<char>('0' + rd() % 10);
    return id;
}

bool NoOk(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '|' && c != '*' &&
            c != '@')
            return false;
    return true;
}

std::size_t Utf8Chars(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::int64_t AmountOf(const rapidjson::Value& b, const char* name) {
    if (!b.HasMember("amount") || !b["amount"].IsObject() || !b["amount"].HasMember(name) ||
        !b["amount"][name].IsInt64())
        return -1;
    return b["amount"][name].GetInt64();
}

void WriteAmount(http::JsonWriter& w, const wx3_store::Refund& r, std::int64_t refund_delta, bool full) {
    w.Key("amount");
    w.StartObject();
    WriteInts(w, {{"total", r.total},
                  {"refund", r.refund + refund_delta},
                  {"payer_total", r.total},
                  {"payer_refund", r.refund + refund_delta}});
    if (full) {
        WriteInts(w, {{"settlement_refund", r.refund + refund_delta},
                      {"settlement_total", r.total},
                      {"discount_refund", 0},
                      {"refund_fee", 0}});
        WriteStrings(w, {{"currency", r.currency}});
        w.Key("from");
        w.StartArray();
        w.EndArray();
    }
    w.EndObject();
}

}  // namespace

std::string Wx3RefundJson(const wx3_store::Refund& r) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    WriteStrings(w, {{"refund_id", r.refund_id},
                     {"out_refund_no", r.out_refund_no},
                     {"transaction_id", r.transaction_id},
                     {"out_trade_no", r.out_trade_no},
                     {"channel", "ORIGINAL"},
                     {"user_received_account", "支付用户零钱"},
                     {"create_time", wxpay::V3Time(r.ct_s)},
                     {"status", r.status},
                     {"funds_account", "AVAILABLE"}});
    if (r.success_at) WriteStrings(w, {{"success_time", wxpay::V3Time(*r.success_at)}});
    WriteAmount(w, r, 0, true);
    w.Key("promotion_detail");
    w.StartArray();
    w.EndArray();
    w.EndObject();
    return buf.GetString();
}

http::Response Wx3RefundCall(Ctx& ctx, const Wx3Call& call) {
    const Wx3Merchant& m = call.merchant;
    const rapidjson::Value& b = call.body;
    wx3_store::Refund r;
    r.mch_id = m.row.mch_id;
    r.out_trade_no = JsonStr(b, "out_trade_no");
    r.out_refund_no = JsonStr(b, "out_refund_no");
    r.reason = JsonStr(b, "reason");
    r.notify_url = JsonStr(b, "notify_url");
    r.refund = AmountOf(b, "refund");
    const std::int64_t total = AmountOf(b, "total");
    r.currency = JsonStr(b, "amount", "currency");
    if (!ValidOutTradeNo(r.out_trade_no)) return Wx3Error(400, "PARAM_ERROR", "out_trade_no 不合法", &m);
    if (!NoOk(r.out_refund_no)) return Wx3Error(400, "PARAM_ERROR", "out_refund_no 不合法", &m);
    if (Utf8Chars(r.reason) > kReasonMax) return Wx3Error(400, "PARAM_ERROR", "reason 长度超过80", &m);
    if (!r.notify_url.empty() && !ValidNotifyUrl(r.notify_url))
        return Wx3Error(400, "PARAM_ERROR", "notify_url 不合法", &m);
    if (r.currency != "CNY") return Wx3Error(400, "PARAM_ERROR", "amount.currency 必须为CNY", &m);
    if (r.refund <= 0 || total <= 0)
        return Wx3Error(400, "PARAM_ERROR", "amount.refund 与 amount.total 必须为正整数", &m);
    std::optional<wx_store::Trade> t = wx_store::FindTrade(ctx.db, {"wx", m.row.mch_id, r.out_trade_no});
    if (!t) return Wx3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在", &m);
    if (t->state != "SUCCESS" || !t->transaction_id)
        return Wx3Error(400, "INVALID_REQUEST", "订单未支付", &m);
    if (total != t->total_fee) return Wx3Error(400, "INVALID_REQUEST", "订单金额与原订单金额不一致", &m);
    if (r.reason.find("sim:fail") != std::string::npos)
        return Wx3Error(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起", &m);
    const bool unknown = r.reason.find("sim:unknown") != std::string::npos;
    const bool timeout = r.reason.find("sim:timeout") != std::string::npos;
    r.refund_id = NewRefundId();
    r.transaction_id = *t->transaction_id;
    r.status =
        unknown || timeout || r.reason.find("sim:success") != std::string::npos ? "SUCCESS" : "PROCESSING";
    wx3_store::Refund out;
    switch (wx3_store::InsertRefund(ctx.db, r, out)) {
        case wx3_store::Made::kNoTrade:
            return Wx3Error(400, "INVALID_REQUEST", "订单未支付", &m);
        case wx3_store::Made::kExceeded:
            return Wx3Error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额", &m);
        case wx3_store::Made::kExisting:
            if (out.out_trade_no != r.out_trade_no)
                return Wx3Error(400, "INVALID_REQUEST", "商户退款单号重复", &m);
            return Wx3Signed(m, 200, Wx3RefundJson(out));  // the same request again: as it is now
        case wx3_store::Made::kMade:
            break;
    }
    if (unknown) return Wx3Error(500, "SYSTEM_ERROR", "系统错误", &m);
    if (timeout) SleepPastCallerTimeout();  // made and committed: only the answer is late
    return Wx3Signed(m, 200, Wx3RefundJson(out));
}

http::Response Wx3RefundQuery(Ctx& ctx, const Wx3Call& call, const std::string& out_refund_no) {
    const Wx3Merchant& m = call.merchant;
    if (!NoOk(out_refund_no)) return Wx3Error(400, "PARAM_ERROR", "out_refund_no 不合法", &m);
    std::optional<wx3_store::Refund> r = wx3_store::QueryRefund(ctx.db, m.row.mch_id, out_refund_no);
    if (!r) return Wx3Error(404, "RESOURCE_NOT_EXISTS", "退款单不存在", &m);
    return Wx3Signed(m, 200, Wx3RefundJson(*r));
}

Wx3Notice BuildWx3RefundNotice(const Wx3Merchant& m, const wx3_store::Refund& r, Wx3Tamper tamper,
                               std::int64_t now) {
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    // kAppid has no appid to change in a refund notice: it names another merchant instead.
    const std::string mchid = tamper == Wx3Tamper::kAppid ? "1900000000" : r.mch_id;
    WriteStrings(w, {{"mchid", mchid},
                     {"out_trade_no", r.out_trade_no},
                     {"transaction_id", r.transaction_id},
                     {"out_refund_no", r.out_refund_no},
                     {"refund_id", r.refund_id},
                     {"refund_status", r.status},
                     {"user_received_account", "支付用户零钱"}});
    if (r.success_at) WriteStrings(w, {{"success_time", wxpay::V3Time(*r.success_at)}});
    WriteAmount(w, r, tamper == Wx3Tamper::kAmountResigned ? 1 : 0, false);
    w.EndObject();
    const std::string summary = r.status == "SUCCESS"  ? "退款成功"
                                : r.status == "CLOSED" ? "退款关闭"
                                                       : "退款异常";
    const Wx3Envelope e{"REFUND." + r.status, summary, "refund", wxpay::V3Time(now)};
    return SealWx3Notice(m, buf.GetString(), e, tamper, now);
}

http::Response Wx3SimRefund(Ctx& ctx, const SimRefundArgs& a, wx3_store::Refund r) {
    std::optional<Wx3Tamper> tamper = FindTamper(a.tamper, kWx3TamperNames);
    if (!tamper) return http::Fail(http::Err::kBadRequest, "tamper must be one of WeChat v3's tamper names");
    if (!a.status.empty() && a.status != r.status) {
        if (a.status != "SUCCESS" && a.status != "ABNORMAL" && a.status != "CLOSED")
            return http::Fail(http::Err::kBadRequest, "status must be SUCCESS, ABNORMAL or CLOSED");
        std::optional<wx3_store::Refund> done = wx3_store::FinishRefund(ctx.db, r.refund_id, a.status);
        if (!done)
            return http::Fail(http::Err::kOrderClosed,
                              "the refund is " + r.status + ", not PROCESSING or ABNORMAL");
        r = std::move(*done);
    }
    if (r.status == "PROCESSING")
        return http::Fail(http::Err::kBadRequest, "WeChat notifies only a finished refund: give status");
    std::optional<wx_store::Merchant> row = wx_store::FindMerchant(ctx.db, "wx", r.mch_id);
    std::optional<Wx3Merchant> m = row ? AsWx3Merchant(*row) : std::nullopt;
    if (!m) return http::Fail(http::Err::kNoSuchObject, "the refund's merchant is gone");
    const int copies = r.notify_url.empty() ? 0 : a.times;
    Notice n;
    n.out_trade_no = r.out_trade_no;
    n.transaction_id = r.refund_id;
    n.url = r.notify_url;
    n.content_type = "application/json";
    n.copies = copies;
    n.what =
        "sim/refund wx " + r.out_refund_no + " " + r.status + (a.tamper.empty() ? "" : " tamper=" + a.tamper);
    if (copies > 0) {
        Wx3Notice v3 = BuildWx3RefundNotice(*m, r, *tamper, std::time(nullptr));
        n.body = std::move(v3.body);
        n.headers = std::move(v3.headers);
        wx3_store::CountNotify(ctx.db, r.refund_id, copies);
    }
    return SendNotice(ctx.opts, n, a.delay_ms);
}

}  // namespace orderpay::sim

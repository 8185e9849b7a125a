// Alipay gateway calls. Each answer's signature is verified over the raw response substring
// before any field is trusted; 20000, a timeout or a bad signature is "unknown", resolved by
// alipay.trade.query and, for scan payments, ended by alipay.trade.cancel (PROTOCOLS.md §2.4).
#include "orderpay/providers/alipay/client.hpp"

#include <unistd.h>

#include <ctime>

#include "orderpay/domain/money.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/scan_resolve.hpp"

namespace orderpay::alipay {

using providers::CreateResult;
using providers::Field;
using providers::Outcome;
using providers::QueryResult;

namespace {

std::string Subject(const std::string& title) {
    // Alipay limits subject to 256 characters; titles are at most 128 bytes already.
    return title.empty() ? "order" : title;
}

QueryResult::State TradeState(const std::string& status) {
    if (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED") return QueryResult::State::kPaid;
    if (status == "WAIT_BUYER_PAY") return QueryResult::State::kPaying;
    if (status == "TRADE_CLOSED") return QueryResult::State::kClosed;
    return QueryResult::State::kUnknown;
}

}  // namespace

std::string AlipayClient::BizContent(std::initializer_list<std::pair<const char*, std::string>> fields) {
    std::string out = "{";
    for (const auto& [k, v] : fields) {
        if (out.size() > 1) out += ',';
        out += http::JsonString(k) + ":" + http::JsonString(v);
    }
    return out + "}";
}

std::string AlipayClient::Said(const providers::Fields& f) {
    return Field(f, "code") + " " + Field(f, "sub_code") + ": " + Field(f, "sub_msg");
}

AlipayClient::Call AlipayClient::Post(const providers::Merchant& m, const std::string& method,
                                      const std::string& biz_content, const std::string& notify_url) {
    Call call;
    std::shared_ptr<const Keys> keys = LoadKeys(m, call.error);
    if (!keys) return call;  // a configuration error: nothing was sent
    Params params = {
        {"app_id", m.app_id},  {"method", method},
        {"format", "JSON"},    {"charset", "utf-8"},
        {"sign_type", "RSA2"}, {"timestamp", GatewayTimestamp(static_cast<long long>(std::time(nullptr)))},
        {"version", "1.0"},    {"biz_content", biz_content},
    };
    if (!notify_url.empty()) params.emplace_back("notify_url", notify_url);
    if (!keys->app_cert_sn.empty()) {
        params.emplace_back("app_cert_sn", keys->app_cert_sn);
        params.emplace_back("alipay_root_cert_sn", keys->alipay_root_cert_sn);
    }
    params.emplace_back("sign", SignRequest(params, keys->app_private));
    providers::HttpOptions ho;
    ho.connect_timeout_ms = opts_.timeouts.connect_ms;
    ho.timeout_ms = opts_.timeouts.total_ms;
    // charset belongs in the URL query too (PROTOCOLS.md §2.1, yansongda/pay PR #249).
    providers::HttpResult hr =
        providers::HttpRequest("POST", opts_.gateway + "?charset=utf-8", http::EncodeForm(params),
                               "application/x-www-form-urlencoded;charset=utf-8", ho);
    if (hr.fail != providers::HttpFail::kNone || hr.status != 200) {
        call.timeout = hr.fail != providers::HttpFail::kConnect;
        call.error = hr.fail != providers::HttpFail::kNone ? "http: " + hr.error
                                                           : "http status " + std::to_string(hr.status);
        return call;
    }
    std::string content, reason;
    bool error_node = false;
    if (!VerifyResponse(hr.body, method, keys->alipay_public, content, reason, &error_node)) {
        call.timeout = true;  // an unverifiable answer is no answer
        call.error = "response not trusted: " + reason;
        return call;
    }
    // Alipay writes amounts as strings; a number is kept as the characters it was signed in, never
    // rewritten through a double (2.5e1 or 24.999999999999999 must not read as "25.0").
    rapidjson::Document doc;
    if (!http::ParseJsonNumbersAsWritten(content, doc).empty() || !doc.IsObject()) {
        call.timeout = true;
        call.error = "response is not a JSON object";
        return call;
    }
    for (auto& member : doc.GetObject())
        if (member.value.IsString())
            call.fields[std::string(member.name.GetString(), member.name.GetStringLength())] =
                std::string(member.value.GetString(), member.value.GetStringLength());
    // error_response answers a call the gateway refused (a signature, an app id): it never says
    // 10000, and one that does is no answer about the trade, whatever it says of it.
    if (error_node && Field(call.fields, "code") == "10000") {
        call.fields.clear();
        call.timeout = true;
        call.error = "error_response claiming success (code 10000)";
        return call;
    }
    call.ok = true;
    return call;
}

CreateResult AlipayClient::Create(const providers::Merchant& m, const providers::CreateParams& p) {
    CreateResult res;
    if (p.currency != "CNY") {
        res.outcome = Outcome::kFailed;
        res.message = "Alipay trades are in CNY only";
        return res;
    }
    if (p.kind == providers::PayKind::kScan) return Pay(m, p);
    std::string amount = domain::FormatDecimal(p.amount, 2);
    // time_expire (GMT+8, like the timestamp) makes the code unusable once the order expires, so
    // a buyer cannot pay an order `orderpay expire` has already failed.
    std::string biz = p.expire_epoch_s > 0 ? BizContent({{"out_trade_no", p.slip_id},
                                                         {"total_amount", amount},
                                                         {"subject", Subject(p.description)},
                                                         {"time_expire", GatewayTimestamp(p.expire_epoch_s)}})
                                           : BizContent({{"out_trade_no", p.slip_id},
                                                         {"total_amount", amount},
                                                         {"subject", Subject(p.description)}});
    Call call = Post(m, "alipay.trade.precreate", biz, p.notify_url);
    if (!call.ok) {
        res.outcome = call.timeout ? Outcome::kUnknown : Outcome::kFailed;
        res.timeout = call.timeout;
        res.message = call.error;
        return res;
    }
    std::string code = Field(call.fields, "code");
    if (code != "10000" || Field(call.fields, "out_trade_no") != p.slip_id ||
        Field(call.fields, "qr_code").empty()) {
        res.outcome = code == "20000" ? Outcome::kUnknown : Outcome::kFailed;
        res.message = Said(call.fields);
        return res;
    }
    res.outcome = Outcome::kPending;
    res.re_tp = "QRCODE";
    res.re_obj = Field(call.fields, "qr_code");
    return res;
}

CreateResult AlipayClient::Pay(const providers::Merchant& m, const providers::CreateParams& p) {
    Call call = Post(m, "alipay.trade.pay",
                     BizContent({{"out_trade_no", p.slip_id},
                                 {"scene", "bar_code"},
                                 {"auth_code", p.auth_code},
                                 {"total_amount", domain::FormatDecimal(p.amount, 2)},
                                 {"subject", Subject(p.description)}}),
                     p.notify_url);
    CreateResult res;
    if (!call.ok && !call.timeout) {
        res.outcome = Outcome::kFailed;
        res.message = call.error;
        return res;
    }
    std::string code = Field(call.fields, "code");
    // An answer about another trade says nothing of this one: unknown, so the slip is asked about.
    if (call.ok && code == "10000" && Field(call.fields, "out_trade_no") != p.slip_id) {
        res.outcome = Outcome::kUnknown;
        res.message = "paid answer for another trade";
        return res;
    }
    if (call.ok && code == "10000") {
        res.outcome = Outcome::kPaid;
        res.txn_id = Field(call.fields, "trade_no");
        res.paid_amount = domain::ParseProviderAmount(Field(call.fields, "total_amount"), 2).value_or(-1);
        res.paid_currency = "CNY";
        return res;
    }
    if (call.ok && code != "10003" && code != "20000") {
        res.outcome = Outcome::kFailed;  // 40004 and the like: a definite refusal
        res.message = Said(call.fields);
        res.decline = res.message;
        return res;
    }
    // 10003: the buyer is confirming; 20000 or no trustworthy answer: unknown.
    // After 20000 the F2F demo queries once before cancelling; after 10003 it polls.
    bool unknown = !call.ok || code == "20000";
    providers::ScanResolve r{unknown ? 1 : opts_.scan_poll_tries,  opts_.scan_poll_ms,
                             /*not_found_is_final=*/false,         [&] { return Query(m, p.slip_id); },
                             [&] { return Cancel(m, p.slip_id); }, "cancelled"};
    r.before_void = p.before_void;
    return providers::ResolveScan(r, call.ok ? code : call.error);
}

// alipay.trade.cancel closes an unpaid trade, and refunds a paid one: it answers action=refund
// then (PROTOCOLS.md §2.4). We cancel only what a query or a close found unpaid, but the buyer
// can pay in between, so the answer's action is read, never assumed. retry_flag=Y asks us to call
// again.
providers::VoidResult AlipayClient::Cancel(const providers::Merchant& m, const std::string& slip_id) {
    providers::VoidResult v;
    for (int i = 0; i < opts_.cancel_tries; ++i) {
        Call call = Post(m, "alipay.trade.cancel", BizContent({{"out_trade_no", slip_id}}));
        const std::string code = Field(call.fields, "code");
        if (call.ok && Field(call.fields, "retry_flag") != "Y") {
            if (code != "10000") return v;
            v.done = true;
            if (Field(call.fields, "action") == "refund") {
                v.reversed_txn = Field(call.fields, "trade_no");
                // A refund we cannot tie to its payment is still a void; the payment's own
                // notification or a query names it.
                if (Field(call.fields, "out_trade_no") != slip_id) v.reversed_txn.clear();
            }
            return v;
        }
        usleep(static_cast<useconds_t>(opts_.scan_poll_ms) * 1000 / 2);
    }
    return v;
}

QueryResult AlipayClient::Query(const providers::Merchant& m, const std::string& slip_id) {
    QueryResult q;
    Call call = Post(m, "alipay.trade.query", BizContent({{"out_trade_no", slip_id}}));
    if (!call.ok) {
        q.message = call.error;
        return q;
    }
    std::string code = Field(call.fields, "code");
    if (code != "10000") {
        // Before the buyer scans a precreated code the trade does not exist yet: not an error.
        q.state = Field(call.fields, "sub_code") == "ACQ.TRADE_NOT_EXIST" ? QueryResult::State::kNotFound
                                                                          : QueryResult::State::kUnknown;
        q.message = code + " " + Field(call.fields, "sub_code");
        return q;
    }
    if (Field(call.fields, "out_trade_no") != slip_id) {
        q.message = "query answered for another trade";
        return q;
    }
    std::string status = Field(call.fields, "trade_status");
    q.message = status;
    q.state = TradeState(status);
    // Closed too: a paid trade closed since was refunded in full, and who checks that (reconcile,
    // for a slip it sent a void) must know it is the payment it holds.
    if (q.state == QueryResult::State::kPaid || q.state == QueryResult::State::kClosed) {
        q.txn_id = Field(call.fields, "trade_no");
        q.amount = domain::ParseProviderAmount(Field(call.fields, "total_amount"), 2).value_or(-1);
        q.currency = "CNY";
    }
    return q;
}

providers::CloseResult AlipayClient::Close(const providers::Merchant& m, const std::string& slip_id) {
    providers::CloseResult c;
    Call call = Post(m, "alipay.trade.close", BizContent({{"out_trade_no", slip_id}}));
    if (!call.ok) {
        c.message = call.error;
        return c;
    }
    std::string code = Field(call.fields, "code"), sub = Field(call.fields, "sub_code");
    c.message = code + " " + sub;
    if (code == "10000") {
        c.closed = true;
    } else if (sub == "ACQ.TRADE_NOT_EXIST") {
        // A precreated code nobody scanned yet cannot be closed, but cancel records it closed so
        // a later scan of the old code fails instead of paying a superseded slip.
        providers::VoidResult v = Cancel(m, slip_id);
        c.closed = v.done;
        c.reversed_txn = v.reversed_txn;
    } else if (sub == "ACQ.TRADE_STATUS_ERROR") {
        QueryResult q = Query(m, slip_id);
        c.already_paid = q.state == QueryResult::State::kPaid;
        c.closed = q.state == QueryResult::State::kClosed;
    }
    return c;
}

bool VerifyNotificationFor(const providers::Merchant& m, const Params& params, providers::PaidEvent& out,
                           std::string& reason) {
    std::shared_ptr<const Keys> keys = LoadKeys(m, reason);
    if (!keys) return false;
    if (!VerifyNotification(params, keys->alipay_public, reason)) return false;
    auto get = [&](const char* k) {
        for (const auto& [name, value] : params)
            if (name == k) return value;
        return std::string();
    };
    out.slip_id = get("out_trade_no");
    out.txn_id = get("trade_no");
    out.app_id = get("app_id");
    out.mch_id = get("seller_id");
    out.currency = "CNY";
    // An exact decimal string: "0.01" -> 1 fen; anything else (float noise, 3 decimals) fails.
    out.amount = domain::ParseProviderAmount(get("total_amount"), 2).value_or(-1);
    out.status = get("trade_status");
    out.paid = out.status == "TRADE_SUCCESS" || out.status == "TRADE_FINISHED";
    // After a refund Alipay notifies the trade again with out_biz_no (the refund's
    // out_request_no, our refund id) and gmt_refund: a refund's result, never a payment. Its
    // refund_fee is what the whole trade has had back, not this refund's amount: reported as
    // what it is (refunded_total), which app/refund_notice holds the refund against.
    if (!get("out_biz_no").empty() && !get("gmt_refund").empty()) {
        out.paid = false;
        providers::PaidEvent::Refund r;
        r.refund_id = get("out_biz_no");
        r.ok = true;
        // Not this refund's amount, but bounds on it: the trade had at least this refund back,
        // and never more than it was paid. Always stated; none (0.00), or unreadable, is -1.
        r.paid_total = out.amount;
        const std::int64_t back = domain::ParseProviderAmount(get("refund_fee"), 2).value_or(-1);
        r.refunded_total = back > 0 ? back : -1;
        out.refund = r;
        out.status =
            "refund " + get("out_biz_no") + " (" + out.status + ", trade refunded " + get("refund_fee") + ")";
    }
    reason = "signature valid";
    return true;
}

}  // namespace orderpay::alipay

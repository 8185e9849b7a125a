// WeChat Pay v3 payments (PROTOCOLS.md §1.7): create, codepay, query, close and reverse, over
// the signed calls of v3_call.cpp; a timeout, 5xx or unverifiable answer is "unknown", resolved
// by querying.
#include <unistd.h>

#include <cctype>
#include <ctime>
#include <optional>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/plausible.hpp"
#include "orderpay/providers/scan_resolve.hpp"
#include "orderpay/providers/wxpay/common.hpp"
#include "orderpay/providers/wxpay/v3.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "v3_json.hpp"

namespace orderpay::wxpay {

using v3json::Member;
using v3json::ParseObject;

using providers::CreateResult;
using providers::Outcome;
using providers::QueryResult;

namespace {

// description is at most 127 bytes of UTF-8; time_expire is RFC 3339 in Beijing time.
constexpr std::size_t kDescriptionMax = 127;

std::int64_t AmountTotal(const rapidjson::Value& obj) {
    if (!obj.IsObject() || !obj.HasMember("amount") || !obj["amount"].IsObject()) return -1;
    const rapidjson::Value& a = obj["amount"];
    if (!a.HasMember("total") || !a["total"].IsInt64()) return -1;
    return a["total"].GetInt64();
}

// out_trade_no goes into URL paths: only WeChat's own characters (and ours are [a-z0-9]).
bool PathSafe(const std::string& s) {
    if (s.empty() || s.size() > 32) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    return true;
}

// A Transaction (query, codepay) as a QueryResult; `slip_id` must be what it is about.
QueryResult FromTransaction(const providers::Merchant& m, const rapidjson::Document& d,
                            const std::string& slip_id) {
    QueryResult q;
    if (Member(d, "out_trade_no") != slip_id || Member(d, "mchid") != m.mch_id ||
        Member(d, "appid") != m.app_id) {
        q.message = "answer for another trade or merchant";
        return q;
    }
    const std::string ts = Member(d, "trade_state");
    q.message = ts;
    // ACCEPT (v3 only: accepted, the charge not yet made) is a payment under way.
    q.state = ts == "ACCEPT" ? QueryResult::State::kPaying : TradeState(ts);
    if (q.state == QueryResult::State::kPaid) {
        // REFUND: paid, then refunded in part or whole. The money did arrive, so it settles; v3
        // lists no refunds by trade (only by out_refund_no), so how much went back is not known.
        q.refunded = ts == "REFUND";
        q.txn_id = Member(d, "transaction_id");
        q.amount = AmountTotal(d);
        q.currency = Member(d, "amount", "currency").empty() ? "CNY" : Member(d, "amount", "currency");
    }
    return q;
}

// The codepay request: the buyer's auth_code, read by the shop's scanner, for our slip's amount.
std::string CodepayBody(const providers::Merchant& m, const providers::CreateParams& p) {
    using http::JsonString;
    return "{\"appid\":" + JsonString(m.app_id) + ",\"mchid\":" + JsonString(m.mch_id) +
           ",\"description\":" + JsonString(ItemText(p.description, kDescriptionMax)) +
           ",\"out_trade_no\":" + JsonString(p.slip_id) +
           ",\"payer\":{\"auth_code\":" + JsonString(p.auth_code) +
           "},\"amount\":{\"total\":" + std::to_string(p.amount) + ",\"currency\":" + JsonString(p.currency) +
           "},\"scene_info\":{\"device_id\":\"orderpay\",\"device_ip\":" +
           JsonString(p.client_ip.empty() ? "127.0.0.1" : p.client_ip) + "}}";
}

// A verified codepay answer that is already a paid Transaction for `slip_id`, as the result;
// nullopt when it is anything else (the buyer may still be confirming).
std::optional<CreateResult> PaidAtOnce(const providers::Merchant& m, const std::string& body,
                                       const std::string& slip_id) {
    rapidjson::Document d;
    if (!ParseObject(body, d)) return std::nullopt;
    QueryResult q = FromTransaction(m, d, slip_id);
    if (q.state != QueryResult::State::kPaid) return std::nullopt;
    CreateResult res;
    res.outcome = Outcome::kPaid;
    res.txn_id = q.txn_id;
    res.paid_amount = q.amount;
    res.paid_currency = q.currency;
    return res;
}

// Whether a failed codepay call is a definite refusal: it never arrived, or a 4xx that is not
// "the buyer is confirming" or a system error. No stored source says how v3 signals USERPAYING,
// so everything else is resolved by querying (PROTOCOLS.md §1.7).
bool Refused(bool timeout, long status, const std::string& code) {
    if (timeout) return false;
    if (status == 0) return true;  // never arrived
    const bool pending = code == "USERPAYING" || code == "SYSTEMERROR" || code == "SYSTEM_ERROR" ||
                         code == "BANKERROR" || code == "TRADE_ERROR";
    return status >= 400 && status < 500 && !pending;
}

}  // namespace

WxPayV3::WxPayV3(WxOptions opts) : opts_(std::move(opts)) {}

std::string WxPayV3::JsapiParams(const V3Keys& keys, const std::string& app_id, const std::string& prepay_id,
                                 const std::string& timestamp, const std::string& nonce) {
    const std::string package = "prepay_id=" + prepay_id;
    const std::string sign = v3::JsapiPaySign(keys.merchant_private, app_id, timestamp, nonce, package);
    using http::JsonString;
    return "{\"appId\":" + JsonString(app_id) + ",\"timeStamp\":" + JsonString(timestamp) +
           ",\"nonceStr\":" + JsonString(nonce) + ",\"package\":" + JsonString(package) +
           ",\"signType\":\"RSA\",\"paySign\":" + JsonString(sign) + "}";
}

CreateResult WxPayV3::Create(const providers::Merchant& m, const providers::CreateParams& p) {
    CreateResult res;
    std::string error;
    std::shared_ptr<const V3Keys> keys = LoadV3Keys(m, error);
    if (!keys) {
        res.outcome = Outcome::kFailed;
        res.message = error;
        return res;
    }
    if (p.kind == providers::PayKind::kScan) return Codepay(m, p);
    using http::JsonString;
    std::string body = "{\"appid\":" + JsonString(m.app_id) + ",\"mchid\":" + JsonString(m.mch_id) +
                       ",\"description\":" + JsonString(ItemText(p.description, kDescriptionMax)) +
                       ",\"out_trade_no\":" + JsonString(p.slip_id);
    if (p.expire_epoch_s > 0) body += ",\"time_expire\":" + JsonString(V3Time(p.expire_epoch_s));
    body += ",\"notify_url\":" + JsonString(p.notify_url) +
            ",\"amount\":{\"total\":" + std::to_string(p.amount) + ",\"currency\":" + JsonString(p.currency) +
            "}";
    const bool jsapi = p.kind == providers::PayKind::kJsapi;
    if (jsapi) body += ",\"payer\":{\"openid\":" + JsonString(p.openid) + "}";
    body += "}";
    Answer a = Call(m, "POST", jsapi ? "/v3/pay/transactions/jsapi" : "/v3/pay/transactions/native", body);
    if (!a.ok) {
        res.outcome = a.timeout ? Outcome::kUnknown : Outcome::kFailed;
        res.timeout = a.timeout;
        res.message = a.error;
        return res;
    }
    rapidjson::Document d;
    const std::string value = ParseObject(a.body, d) ? Member(d, jsapi ? "prepay_id" : "code_url") : "";
    if (value.empty() || (jsapi && !providers::PlausibleId(value))) {
        res.outcome = Outcome::kFailed;
        res.message = value.empty() ? (jsapi ? "no prepay_id in answer" : "no code_url in answer")
                                    : "unusable prepay_id in answer";
        return res;
    }
    res.outcome = Outcome::kPending;
    if (jsapi) {
        res.re_tp = "JSON";
        res.re_obj =
            JsapiParams(*keys, m.app_id, value, std::to_string(std::time(nullptr)), crypto::RandomId(32));
    } else {
        res.re_tp = "QRCODE";
        res.re_obj = value;
    }
    return res;
}

CreateResult WxPayV3::Codepay(const providers::Merchant& m, const providers::CreateParams& p) {
    Answer a = Call(m, "POST", "/v3/pay/transactions/codepay", CodepayBody(m, p));
    if (a.ok) {
        if (std::optional<CreateResult> paid = PaidAtOnce(m, a.body, p.slip_id)) return *paid;
    } else if (Refused(a.timeout, a.status, a.code)) {
        CreateResult res;
        res.outcome = Outcome::kFailed;
        res.message = a.error;
        // WeChat's word only: a call that never arrived (status 0) has our own text.
        if (a.status != 0 && !a.code.empty())
            res.decline = a.code + (a.message.empty() ? "" : ": " + a.message);
        return res;
    }
    // The buyer is confirming, or the outcome is unknown: query, then reverse (PROTOCOLS.md §1.7).
    providers::ScanResolve r{opts_.scan_poll_tries,
                             opts_.scan_poll_ms,
                             /*not_found_is_final=*/true,
                             [&] { return Query(m, p.slip_id); },
                             [&] {
                                 return providers::VoidResult{Reverse(m, p.slip_id), {}};
                             },
                             "reversed"};
    r.before_void = p.before_void;
    return providers::ResolveScan(r, a.ok ? "USERPAYING" : a.error);
}

bool WxPayV3::Reverse(const providers::Merchant& m, const std::string& slip_id) {
    if (!PathSafe(slip_id)) return false;
    using http::JsonString;
    const std::string body =
        "{\"appid\":" + JsonString(m.app_id) + ",\"mchid\":" + JsonString(m.mch_id) + "}";
    for (int i = 0; i < opts_.reverse_tries; ++i) {
        Answer a = Call(m, "POST", "/v3/pay/transactions/out-trade-no/" + slip_id + "/reverse", body);
        if (a.ok) return true;
        if (!a.timeout && a.status >= 400 && a.status < 500) return false;
        usleep(static_cast<useconds_t>(opts_.scan_poll_ms) * 1000);
    }
    return false;
}

QueryResult WxPayV3::Query(const providers::Merchant& m, const std::string& slip_id) {
    QueryResult q;
    if (!PathSafe(slip_id)) {
        q.message = "out_trade_no cannot be sent";
        return q;
    }
    Answer a = Call(m, "GET", "/v3/pay/transactions/out-trade-no/" + slip_id + "?mchid=" + m.mch_id, "");
    if (!a.ok) {
        if (a.status == 404 || a.code == "ORDER_NOT_EXIST" || a.code == "ORDERNOTEXIST")
            q.state = QueryResult::State::kNotFound;
        q.message = a.error;
        return q;
    }
    return ReadV3Transaction(m, a.body, slip_id);
}

QueryResult ReadV3Transaction(const providers::Merchant& m, const std::string& body,
                              const std::string& slip_id) {
    rapidjson::Document d;
    if (!ParseObject(body, d)) {
        QueryResult q;
        q.message = "answer is not a JSON object";
        return q;
    }
    return FromTransaction(m, d, slip_id);
}

providers::CloseResult WxPayV3::EndScan(const providers::Merchant& m, const std::string& slip_id) {
    return providers::EndScanByVoid([&] { return Query(m, slip_id); }, [&] { return Reverse(m, slip_id); },
                                    "reversed");
}

providers::CloseResult WxPayV3::Close(const providers::Merchant& m, const std::string& slip_id) {
    providers::CloseResult c;
    if (!PathSafe(slip_id)) {
        c.message = "out_trade_no cannot be sent";
        return c;
    }
    Answer a = Call(m, "POST", "/v3/pay/transactions/out-trade-no/" + slip_id + "/close",
                    "{\"mchid\":" + http::JsonString(m.mch_id) + "}");
    if (a.ok) {
        c.closed = true;  // 204
        return c;
    }
    if (a.timeout) {
        c.message = a.error;
        return c;
    }
    // The error codes for "already paid" / "already closed" are not in stored sources: ask.
    QueryResult q = Query(m, slip_id);
    c.closed = q.state == QueryResult::State::kClosed || q.state == QueryResult::State::kNotFound;
    c.already_paid = q.state == QueryResult::State::kPaid;
    c.message = a.error + "; query: " + q.message;
    return c;
}

}  // namespace orderpay::wxpay

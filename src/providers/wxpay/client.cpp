// WeChat Pay v2 calls over libcurl. Every SUCCESS response's sign is verified before any field
// is trusted; a timeout or SYSTEMERROR is "unknown" and resolved with orderquery.
#include "orderpay/providers/wxpay/client.hpp"

#include <unistd.h>

#include <ctime>

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/plausible.hpp"
#include "orderpay/providers/scan_resolve.hpp"
#include "orderpay/providers/wxpay/common.hpp"
#include "orderpay/providers/wxpay/refund.hpp"
#include "orderpay/providers/wxpay/sign.hpp"

namespace orderpay::wxpay {

using providers::CreateResult;
using providers::Field;
using providers::Outcome;
using providers::QueryResult;

namespace {

SignType MerchantSignType(const providers::Merchant& m) {
    return ParseSignType(m.sign_type).value_or(SignType::kMd5);
}

// A field of WeChat's quoted in a stored reason: UTF-8 with controls blanked (FitUtf8), at most
// 128 bytes (marked "…"), "(none)" when absent, so a signed message cannot fill the inbox's line.
std::string ShownField(const std::string& value) {
    if (value.empty()) return "(none)";
    std::string cut = http::FitUtf8(value, 128);
    if (cut.size() < http::FitUtf8(value, value.size()).size()) cut += "…";
    return cut;
}

}  // namespace

WxPayV2::Call WxPayV2::Post(const providers::Merchant& m, const std::string& path,
                            std::map<std::string, std::string> fields) {
    Call call;
    SignType st = MerchantSignType(m);
    fields["appid"] = m.app_id;
    fields["mch_id"] = m.mch_id;
    fields["nonce_str"] = crypto::RandomId(32);
    if (st == SignType::kHmacSha256) fields["sign_type"] = "HMAC-SHA256";
    fields["sign"] = Sign(fields, m.api_key, st);
    providers::HttpOptions ho;
    ho.connect_timeout_ms = opts_.timeouts.connect_ms;
    ho.timeout_ms = opts_.timeouts.total_ms;
    // /secapi/* (reverse, refund) authenticates the merchant by its TLS client certificate too.
    if (path.rfind("/secapi/", 0) == 0) {
        if (std::optional<ClientCert> cc = V2ClientCert(m)) {
            ho.client_cert_file = cc->cert_file;
            ho.client_key_file = cc->key_file;
        }
    }
    providers::HttpResult hr =
        providers::HttpRequest("POST", opts_.gateway + path, http::BuildFlatXml(fields), "text/xml", ho);
    if (hr.fail != providers::HttpFail::kNone) {
        call.timeout = hr.fail != providers::HttpFail::kConnect;
        call.error = "http: " + hr.error;
        // A refused connection means the request never arrived: still unknown for the caller's
        // purposes only when it might have been processed.
        if (hr.fail == providers::HttpFail::kConnect) call.timeout = false;
        return call;
    }
    if (hr.status != 200) {
        call.timeout = hr.status >= 500;  // a 5xx may have been processed
        call.error = "http status " + std::to_string(hr.status);
        return call;
    }
    http::FlatXmlResult parsed = http::ParseFlatXml(hr.body);
    if (!parsed.fields) {
        call.timeout = true;  // garbage back: we cannot know what happened
        call.error = "bad response xml: " + parsed.error;
        return call;
    }
    call.fields = std::move(*parsed.fields);
    if (Field(call.fields, "return_code") != "SUCCESS") {
        call.error = "return_code FAIL: " + Field(call.fields, "return_msg");
        return call;
    }
    if (!Verify(call.fields, m.api_key, st)) {
        // A forged or corrupted answer is no answer at all.
        call.timeout = true;
        call.error = "response signature invalid";
        call.fields.clear();
        return call;
    }
    if (Field(call.fields, "appid") != m.app_id || Field(call.fields, "mch_id") != m.mch_id) {
        call.timeout = true;
        call.error = "response for another merchant";
        call.fields.clear();
        return call;
    }
    call.ok = true;
    return call;
}

std::string WxPayV2::JsapiParams(const providers::Merchant& m, const std::string& prepay_id,
                                 const std::string& timestamp, const std::string& nonce) {
    SignType st = MerchantSignType(m);
    std::map<std::string, std::string> p = {{"appId", m.app_id},
                                            {"timeStamp", timestamp},
                                            {"nonceStr", nonce},
                                            {"package", "prepay_id=" + prepay_id},
                                            {"signType", std::string(ToString(st))}};
    std::string sign = Sign(p, m.api_key, st);
    using http::JsonString;
    return "{\"appId\":" + JsonString(p["appId"]) + ",\"timeStamp\":" + JsonString(timestamp) +
           ",\"nonceStr\":" + JsonString(nonce) + ",\"package\":" + JsonString(p["package"]) +
           ",\"signType\":" + JsonString(p["signType"]) + ",\"paySign\":" + JsonString(sign) + "}";
}

namespace {

// The fields unifiedorder and micropay share; the amount always comes from our slip.
std::map<std::string, std::string> TradeFields(const providers::CreateParams& p) {
    return {
        {"body", ItemText(p.description, 120)},  // at most 120 bytes
        {"out_trade_no", p.slip_id},
        {"total_fee", std::to_string(p.amount)},
        {"fee_type", p.currency},
        {"spbill_create_ip", p.client_ip.empty() ? "127.0.0.1" : p.client_ip},
    };
}

}  // namespace

CreateResult WxPayV2::Create(const providers::Merchant& m, const providers::CreateParams& p) {
    if (p.kind == providers::PayKind::kScan) return Micropay(m, p);
    CreateResult res;
    std::map<std::string, std::string> f = TradeFields(p);
    f["notify_url"] = p.notify_url;
    if (p.expire_epoch_s > 0) f["time_expire"] = BeijingTime(p.expire_epoch_s, "%Y%m%d%H%M%S");
    if (p.kind == providers::PayKind::kJsapi) {
        f["trade_type"] = "JSAPI";
        f["openid"] = p.openid;
    } else {
        f["trade_type"] = "NATIVE";
        f["product_id"] = p.slip_id;
    }
    Call call = Post(m, "/pay/unifiedorder", std::move(f));
    if (!call.ok) {
        res.outcome = call.timeout ? Outcome::kUnknown : Outcome::kFailed;
        res.timeout = call.timeout;
        res.message = call.error;
        return res;
    }
    if (Field(call.fields, "result_code") != "SUCCESS") {
        res.outcome = Outcome::kFailed;
        res.message = Field(call.fields, "err_code") + ": " + Field(call.fields, "err_code_des");
        if (Field(call.fields, "err_code") == "SYSTEMERROR") res.outcome = Outcome::kUnknown;
        return res;
    }
    res.outcome = Outcome::kPending;
    if (p.kind == providers::PayKind::kJsapi) {
        std::string prepay = Field(call.fields, "prepay_id");
        // The buyer's page hands it to WeChat as package=prepay_id=...: an id, never a place for
        // a NUL, a CR LF or kilobytes (the screen checks only that the object is text).
        if (!providers::PlausibleId(prepay)) {
            res.outcome = Outcome::kFailed;
            res.message = prepay.empty() ? "no prepay_id in response" : "unusable prepay_id in response";
            return res;
        }
        res.re_tp = "JSON";
        res.re_obj = JsapiParams(m, prepay, std::to_string(std::time(nullptr)), crypto::RandomId(32));
    } else {
        res.re_tp = "QRCODE";
        res.re_obj = Field(call.fields, "code_url");
        if (res.re_obj.empty()) {
            res.outcome = Outcome::kFailed;
            res.message = "no code_url in response";
        }
    }
    return res;
}

CreateResult WxPayV2::Micropay(const providers::Merchant& m, const providers::CreateParams& p) {
    std::map<std::string, std::string> f = TradeFields(p);
    f["auth_code"] = p.auth_code;
    Call call = Post(m, "/pay/micropay", std::move(f));
    CreateResult res;
    if (call.ok && Field(call.fields, "result_code") == "SUCCESS") {
        auto amount = domain::ParseProviderAmount(Field(call.fields, "total_fee"), 0);
        res.outcome = Outcome::kPaid;
        res.txn_id = Field(call.fields, "transaction_id");
        res.paid_amount = amount.value_or(-1);
        res.paid_currency = Field(call.fields, "fee_type").empty() ? "CNY" : Field(call.fields, "fee_type");
        return res;
    }
    std::string err = Field(call.fields, "err_code");
    if (call.ok && err != "USERPAYING" && err != "SYSTEMERROR" && err != "BANKERROR") {
        res.outcome = Outcome::kFailed;  // a definite refusal, e.g. AUTHCODEEXPIRE, NOTENOUGH
        res.message = err + ": " + Field(call.fields, "err_code_des");
        res.decline = res.message;
        return res;
    }
    if (!call.ok && !call.timeout) {
        res.outcome = Outcome::kFailed;
        res.message = call.error;
        return res;
    }
    // USERPAYING / SYSTEMERROR / timeout: poll orderquery, then reverse (PROTOCOLS.md §1.4).
    providers::ScanResolve r{opts_.scan_poll_tries,
                             opts_.scan_poll_ms,
                             /*not_found_is_final=*/true,
                             [&] { return Query(m, p.slip_id); },
                             [&] {
                                 return providers::VoidResult{Reverse(m, p.slip_id), {}};
                             },
                             "reversed"};
    r.before_void = p.before_void;
    return providers::ResolveScan(r, call.ok ? err : call.error);
}

bool WxPayV2::Reverse(const providers::Merchant& m, const std::string& slip_id) {
    for (int i = 0; i < opts_.reverse_tries; ++i) {
        Call call = Post(m, "/secapi/pay/reverse", {{"out_trade_no", slip_id}});
        if (call.ok && Field(call.fields, "result_code") == "SUCCESS") return true;
        if (call.ok && Field(call.fields, "recall") == "N") return false;
        usleep(static_cast<useconds_t>(opts_.scan_poll_ms) * 1000);
    }
    return false;
}

providers::CloseResult WxPayV2::EndScan(const providers::Merchant& m, const std::string& slip_id) {
    // closeorder is documented for unifiedorder trades; what it answers for a micropay one is
    // not (an ORDERNOTEXIST read as "closed" would leave the trade payable).
    return providers::EndScanByVoid([&] { return Query(m, slip_id); }, [&] { return Reverse(m, slip_id); },
                                    "reversed");
}

providers::CloseResult WxPayV2::Close(const providers::Merchant& m, const std::string& slip_id) {
    providers::CloseResult c;
    Call call = Post(m, "/pay/closeorder", {{"out_trade_no", slip_id}});
    if (!call.ok) {
        c.message = call.error;
        return c;
    }
    std::string err = Field(call.fields, "err_code");
    if (Field(call.fields, "result_code") == "SUCCESS" || err == "ORDERCLOSED" || err == "ORDERNOTEXIST") {
        c.closed = true;
    } else if (err == "ORDERPAID") {
        c.already_paid = true;
    }
    c.message = err;
    return c;
}

bool VerifyNotification(const std::map<std::string, std::string>& fields, const providers::Merchant& m,
                        providers::PaidEvent& out, std::string& reason) {
    auto sign = fields.find("sign");
    if (sign == fields.end() || sign->second.empty()) {
        reason = "signature missing";
        return false;
    }
    // The merchant's configured algorithm decides; a notification may name its own sign_type,
    // which is then signed too, but it cannot downgrade us.
    SignType st = MerchantSignType(m);
    std::string claimed = Field(fields, "sign_type");
    if (!claimed.empty() && ParseSignType(claimed) != st) {
        reason = "sign_type " + claimed + " does not match the merchant's " + std::string(ToString(st));
        return false;
    }
    if (!Verify(fields, m.api_key, st)) {
        reason = "signature invalid";
        return false;
    }
    out.slip_id = Field(fields, "out_trade_no");
    out.txn_id = Field(fields, "transaction_id");
    out.app_id = Field(fields, "appid");
    out.mch_id = Field(fields, "mch_id");
    const std::string return_code = Field(fields, "return_code");
    if (return_code != "SUCCESS") {
        // return_code FAIL is WeChat saying the message itself failed (PROTOCOLS.md §1.5): no
        // payment, whatever result_code says, and no amount to check (it claims no money, as a
        // currency-less event does), so it is acknowledged and not sent again. The status names
        // return_code and return_msg, never result_code (it said "not paid: SUCCESS").
        out.status = "return_code " + ShownField(return_code) + ", return_msg " +
                     ShownField(Field(fields, "return_msg"));
        reason = "signature valid";
        return true;
    }
    out.currency = Field(fields, "fee_type").empty() ? "CNY" : Field(fields, "fee_type");
    out.amount = domain::ParseProviderAmount(Field(fields, "total_fee"), 0).value_or(-1);
    out.paid = Field(fields, "result_code") == "SUCCESS";
    out.status = Field(fields, "result_code");
    reason = "signature valid";
    return true;
}

}  // namespace orderpay::wxpay

// WeChat Pay v3 refunds (/v3/refund/domestic/refunds): signed like every v3 call, the answer's
// signature checked before a byte of it is believed. WeChat refunds settle later: the create
// answer is mostly PROCESSING, and the result comes as a REFUND.* notification or by query.
// A timeout, 5xx or unverifiable answer is "unknown", resolved by querying out_refund_no.
#include <cctype>

#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/wxpay/refund.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {

using providers::RefundResult;

namespace {

// out_trade_no / out_refund_no go into bodies and paths: WeChat's characters, [A-Za-z0-9_-|*@].
bool IdOk(const std::string& s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '|' && c != '*' &&
            c != '@')
            return false;
    return true;
}

// UTF-8 `text` cut to `max` characters, never inside a sequence; control characters become spaces.
std::string CutChars(const std::string& text, std::size_t max) {
    std::string out;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < text.size() && chars < max;) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool valid = len > 0 && i + len <= text.size();
        for (std::size_t k = 1; valid && k < len; ++k)
            valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 2;
        if (!valid) {
            ++i;
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f))
            out += ' ';
        else
            out.append(text, i, len);
        i += len;
        ++chars;
    }
    return out;
}

std::int64_t Int(const rapidjson::Value& obj, const char* a, const char* b) {
    if (!obj.IsObject() || !obj.HasMember(a) || !obj[a].IsObject() || !obj[a].HasMember(b) ||
        !obj[a][b].IsInt64())
        return -1;
    return obj[a][b].GetInt64();
}

}  // namespace

std::string V3RefundBody(const providers::RefundParams& p) {
    if (!IdOk(p.slip_id, 32) || !IdOk(p.refund_id, 64) || p.amount <= 0 || p.paid_amount < p.amount)
        return {};
    using http::JsonString;
    std::string body =
        "{\"out_trade_no\":" + JsonString(p.slip_id) + ",\"out_refund_no\":" + JsonString(p.refund_id);
    if (std::string reason = CutChars(p.reason, kV3RefundReasonMax); !reason.empty())
        body += ",\"reason\":" + JsonString(reason);
    if (!p.notify_url.empty()) body += ",\"notify_url\":" + JsonString(p.notify_url);
    body += ",\"amount\":{\"refund\":" + std::to_string(p.amount) +
            ",\"total\":" + std::to_string(p.paid_amount) + ",\"currency\":" + JsonString(RefundCurrency(p)) +
            "}}";
    return body;
}

RefundResult V3RefundAnswer(const std::string& body, const providers::RefundParams& p) {
    RefundResult r;
    rapidjson::Document d;
    if (!http::ParseJson(body, d).empty() || !d.IsObject()) {
        r.message = "refund: answer is not a JSON object";
        return r;
    }
    if (http::MemberString(&d, "out_refund_no") != p.refund_id ||
        http::MemberString(&d, "out_trade_no") != p.slip_id) {
        r.message = "refund: answer is about another refund or trade";
        return r;
    }
    const std::string st = http::MemberString(&d, "status");
    // Whole: a cut id is one WeChat never issued; the screen (metered.cpp) makes an unusable
    // one unknown, so the refund is asked about again rather than recorded on a prefix.
    r.provider_refund_id = http::MemberString(&d, "refund_id");
    // Always stated: missing, not an integer or in another currency is not ours (-1, never believed).
    const std::int64_t amount = Int(d, "amount", "refund");
    const rapidjson::Value* am = d.HasMember("amount") && d["amount"].IsObject() ? &d["amount"] : nullptr;
    const std::string currency = am ? http::MemberString(am, "currency") : std::string();
    r.amount = amount > 0 && (currency.empty() || currency == RefundCurrency(p)) ? amount : -1;
    r.message = "refund " + http::FitUtf8(r.provider_refund_id, 64) + " " + st.substr(0, 16);
    if (st == "SUCCESS")
        r.state = RefundResult::State::kOk;
    else if (st == "PROCESSING")
        r.state = RefundResult::State::kProcessing;
    else if (st == "CLOSED")
        r.state = RefundResult::State::kFailed;
    else if (st == "ABNORMAL") {
        // The buyer's card refused it, but the money has left the merchant's account and waits
        // at WeChat (v3 refund guide: "退款资金会停留在退款的中间账户内"): not free to refund again.
        r.state = RefundResult::State::kProcessing;
        r.stuck = true;
    } else {
        r.disputed = true;  // a refund, in a status we do not know: money may be moving
    }
    return r;
}

RefundResult V3RefundFailure(bool timeout, long status, const std::string& code, const std::string& error) {
    RefundResult r;
    r.message = error;
    r.timeout = timeout;
    if (timeout || status >= 500 || status == 429 || code == "SYSTEM_ERROR" || code == "FREQUENCY_LIMITED")
        return r;  // kUnknown: it may have been carried out
    // Not connected: it never arrived. A 4xx (PARAM_ERROR, INVALID_REQUEST for more than the
    // refundable amount, NOT_ENOUGH for the merchant's balance, NO_AUTH, SIGN_ERROR): refused.
    r.state = RefundResult::State::kFailed;
    // No connection, or our signature refused (401 SIGN_ERROR): the refund itself was not looked at.
    r.not_sent = status == 0 || status == 401;
    return r;
}

RefundResult WxPayV3::Refund(const providers::Merchant& m, const providers::RefundParams& p) {
    const std::string body = V3RefundBody(p);
    if (body.empty()) {
        RefundResult r;
        r.state = RefundResult::State::kFailed;
        r.message = "refund: the trade or refund number, or the amount, cannot be sent to WeChat";
        return r;
    }
    Answer a = Call(m, "POST", "/v3/refund/domestic/refunds", body);
    if (!a.ok) return V3RefundFailure(a.timeout, a.status, a.code, a.error);
    return V3RefundAnswer(a.body, p);
}

RefundResult WxPayV3::QueryRefund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult r;
    if (!IdOk(p.refund_id, 64)) {
        r.message = "refund query: out_refund_no cannot be sent";
        return r;
    }
    Answer a = Call(m, "GET", "/v3/refund/domestic/refunds/" + p.refund_id, "");
    if (!a.ok) {
        // RESOURCE_NOT_EXISTS: WeChat never got it. Unknown either way: the caller asks again
        // under the same out_refund_no, which WeChat refunds at most once.
        r.message = "refund query: " + a.error;
        // Believed only signed: an unsigned 404 may come from anything between us and WeChat
        // (a wrong gateway in the operator's shell), and would let `refund finish` record a
        // refund as never made on it (review s23-finish2 M-B).
        std::string why;
        if (a.status == 404 && a.code == "RESOURCE_NOT_EXISTS") {
            r.not_known = SignedError(m, a, why);
            if (!r.not_known)
                r.message += a.signature.empty()
                                 ? " (unsigned: not taken as WeChat's word)"
                                 : " (signature not verified: " + why + "; not taken as WeChat's word)";
        }
        return r;
    }
    return V3RefundAnswer(a.body, p);
}

}  // namespace orderpay::wxpay

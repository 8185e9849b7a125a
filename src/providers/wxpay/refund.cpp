// WeChat Pay v2 refunds: /secapi/pay/refund (with the merchant's client certificate) and
// /pay/refundquery, both keyed by out_refund_no = our refund id so a repeat refunds once, and
// the refund notification on pay/re_wx, whose req_info only the right merchant's key decrypts.
#include "orderpay/providers/wxpay/refund.hpp"

#include "orderpay/domain/money.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {

using providers::Field;
using providers::RefundResult;
using State = providers::RefundResult::State;

namespace {

std::string NoticeField(const providers::Notice& n, std::string_view name) {
    for (const auto& [k, v] : n.fields)
        if (k == name) return v;
    return {};
}

// An amount a refund answer states, believed only in the refund's own currency: refund_fee_type
// is the trade's, CNY when not said. -1 (equal to no refund's amount) otherwise.
std::int64_t InRefundCurrency(const providers::Fields& f, std::int64_t amount,
                              const providers::RefundParams& p) {
    const std::string ft = Field(f, "refund_fee_type");
    return ft.empty() || ft == RefundCurrency(p) ? amount : -1;
}

// Errors after which the refund may or may not exist: ask again by refundquery.
bool RetryableError(const std::string& err) {
    return err == "SYSTEMERROR" || err == "BIZERR_NEED_RETRY" || err == "FREQUENCY_LIMITED";
}

// The decrypted refund of a notice, checked against merchant `m`: its own dialect (v2), its
// appid and mch_id in the clear part, then req_info opened with its key.
std::optional<RefundInfo> OpenRefund(const providers::Merchant& m, const providers::Notice& n,
                                     std::string& reason) {
    if (IsV3(m)) {
        reason = "v2 refund notification for v3 merchant " + m.id;
        return std::nullopt;
    }
    std::string plain;
    if (!DecryptReqInfo(m.api_key, NoticeField(n, "req_info"), plain, reason)) return std::nullopt;
    std::optional<RefundInfo> info = ParseRefundInfo(plain, reason);
    if (!info) reason = "decrypted with merchant " + m.id + "'s key, but " + reason;
    return info;
}

}  // namespace

bool IsV2RefundNotice(const providers::Notice& n) {
    for (const auto& [k, v] : n.fields)
        if (k == "req_info") return true;
    return false;
}

std::string WxPayV2::RefundBlocker(const providers::Merchant& m) const {
    if (V2ClientCert(m)) return {};
    return "merchant " + m.id +
           " has no client certificate (merchant add --client-cert-file F --client-key-file F)";
}

RefundResult WxPayV2::Refund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult r;
    if (std::string why = RefundBlocker(m); !why.empty()) {
        // Nothing was sent: WeChat refuses /secapi/* without the certificate (a certificate
        // removed after the refund was written; a new refund is refused before that).
        r.state = State::kFailed;
        r.not_sent = true;
        r.message = why;
        return r;
    }
    std::map<std::string, std::string> f = {{"out_trade_no", p.slip_id},
                                            {"out_refund_no", p.refund_id},
                                            {"total_fee", std::to_string(p.paid_amount)},
                                            {"refund_fee", std::to_string(p.amount)},
                                            {"refund_fee_type", RefundCurrency(p)}};
    if (!p.reason.empty()) f["refund_desc"] = http::FitUtf8(p.reason, 80);  // refund_desc: at most 80 bytes
    if (!p.notify_url.empty()) f["notify_url"] = p.notify_url;
    Call call = Post(m, "/secapi/pay/refund", std::move(f));
    if (!call.ok) {
        // A refused connection never reached WeChat, but the refund id makes a repeat safe:
        // unknown either way, and refundquery settles it.
        r.state = State::kUnknown;
        r.timeout = call.timeout;
        r.message = call.error;
        if (!call.timeout && !call.fields.empty()) {
            // return_code FAIL: WeChat refused the request itself (signature, parameters) before
            // looking at the refund.
            r.state = State::kFailed;
            r.not_sent = true;
        }
        return r;
    }
    if (Field(call.fields, "result_code") != "SUCCESS") {
        const std::string err = Field(call.fields, "err_code");
        r.state = RetryableError(err) ? State::kUnknown : State::kFailed;
        r.message = err + ": " + Field(call.fields, "err_code_des");
        return r;
    }
    if (Field(call.fields, "out_refund_no") != p.refund_id ||
        Field(call.fields, "out_trade_no") != p.slip_id) {
        r.message = "refund answered for another refund or trade";
        return r;
    }
    // Accepted: the money goes back later; the notification or refundquery says when.
    r.state = State::kProcessing;
    r.provider_refund_id = Field(call.fields, "refund_id");
    r.amount = InRefundCurrency(
        call.fields, domain::ParseProviderAmount(Field(call.fields, "refund_fee"), 0).value_or(0), p);
    r.message = "accepted";
    return r;
}

RefundResult WxPayV2::QueryRefund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult r;
    Call call = Post(m, "/pay/refundquery", {{"out_refund_no", p.refund_id}});
    if (!call.ok) {
        r.timeout = call.timeout;
        r.message = call.error;
        return r;
    }
    if (Field(call.fields, "result_code") != "SUCCESS") {
        const std::string err = Field(call.fields, "err_code");
        // REFUNDNOTEXIST too stays unknown: the request never arrived, and asking for the refund
        // again under the same out_refund_no (as reconcile does) refunds at most once.
        r.message = err + ": " + Field(call.fields, "err_code_des");
        r.not_known = err == "REFUNDNOTEXIST";
        return r;
    }
    if (Field(call.fields, "out_trade_no") != p.slip_id) {
        r.message = "refundquery answered for another trade";
        return r;
    }
    // The trade's refunds are listed as out_refund_no_$n, refund_status_$n, ...: find ours.
    const auto count = domain::ParseDecimal(Field(call.fields, "refund_count"), 0).value_or(0);
    for (std::int64_t i = 0; i < count && i < 50; ++i) {
        const std::string n = std::to_string(i);
        if (Field(call.fields, "out_refund_no_" + n) != p.refund_id) continue;
        const std::string st = Field(call.fields, "refund_status_" + n);
        r.provider_refund_id = Field(call.fields, "refund_id_" + n);
        // Always stated: unreadable, or none at all (0), is not ours (-1, never believed).
        const std::int64_t fee =
            domain::ParseProviderAmount(Field(call.fields, "refund_fee_" + n), 0).value_or(-1);
        r.amount = InRefundCurrency(call.fields, fee > 0 ? fee : -1, p);
        r.message = st;
        if (st == "SUCCESS") {
            r.state = State::kOk;
        } else if (st == "PROCESSING") {
            r.state = State::kProcessing;
        } else if (st == "REFUNDCLOSE") {
            r.state = State::kFailed;
        } else if (st == "CHANGE") {
            // v2's ABNORMAL: taken from the merchant, refused by the buyer's card, held at WeChat
            // until the merchant redirects it. Not free to refund again.
            r.state = State::kProcessing;
            r.stuck = true;
        } else {
            r.disputed = true;  // listed, in a status we do not know: money may be moving
        }
        return r;
    }
    r.message = "refundquery does not list " + p.refund_id;
    r.not_known = true;
    return r;
}

providers::OpenOutcome WxPayV2::OpenNotification(const providers::Merchant& m, providers::Notice& n,
                                                 std::string& reason, providers::KeyFetches& fetches) const {
    using providers::OpenOutcome;
    (void)fetches;  // the key is the merchant's own: nothing to fetch
    if (IsV3(m)) {
        reason = "v2 refund notification for v3 merchant " + m.id;
        return OpenOutcome::kNotAddressed;
    }
    // Cheap before the decryption: a message for another merchant account is not this one's.
    if (NoticeField(n, "mch_id") != m.mch_id || NoticeField(n, "appid") != m.app_id) {
        reason = "refund notification for mch_id " + NoticeField(n, "mch_id") + ", not merchant " + m.id;
        return OpenOutcome::kNotAddressed;
    }
    std::optional<RefundInfo> info = OpenRefund(m, n, reason);
    if (!info) return OpenOutcome::kRefused;
    n.slip_id = info->out_trade_no;
    reason = "req_info decrypted";
    return OpenOutcome::kOpened;
}

bool WxPayV2::VerifyRefundNotification(const providers::Merchant& m, const providers::Notice& n,
                                       providers::PaidEvent& out, std::string& reason) const {
    if (NoticeField(n, "return_code") != "SUCCESS") {
        reason = "refund notification return_code " + NoticeField(n, "return_code");
        return false;
    }
    std::optional<RefundInfo> info = OpenRefund(m, n, reason);
    if (!info) return false;
    out.slip_id = info->out_trade_no;
    out.txn_id = info->transaction_id;
    out.app_id = NoticeField(n, "appid");
    out.mch_id = NoticeField(n, "mch_id");
    // total_fee is what the trade was paid: a refund's result claims no money of the slip's
    // (app/notify), so it is checked against the refund's payment (refund.paid_total) instead.
    out.amount = info->total_fee;
    out.currency = "CNY";
    out.status = "REFUND_" + info->refund_status;
    providers::PaidEvent::Refund refund;
    refund.refund_id = info->out_refund_no;
    refund.provider_refund_id = info->refund_id;
    refund.amount = info->refund_fee;
    refund.paid_total = info->total_fee;
    refund.ok = info->refund_status == "SUCCESS";
    refund.failed = info->refund_status == "REFUNDCLOSE";
    refund.stuck = info->refund_status == "CHANGE";  // see QueryRefund
    out.refund = refund;
    reason = "req_info decrypted with merchant " + m.id + "'s key";
    return true;
}

}  // namespace orderpay::wxpay

// Alipay refunds (PROTOCOLS.md §2): alipay.trade.refund is synchronous and idempotent on
// out_request_no (our refund id). fund_change=Y means money moved now; N that it did not move by
// this call (a repeat of a refund already made, or one still in progress), so the refund query
// decides. 20000, ACQ.SYSTEM_ERROR, a timeout or an unverifiable answer is unknown: the same
// request (same out_request_no) may be sent again. Answers are verified like every other call.
#include "orderpay/domain/money.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/alipay/client.hpp"

namespace orderpay::alipay {

using providers::Field;
using providers::RefundResult;

namespace {

// Codes that say nothing about the refund: ask again under the same out_request_no.
bool Unknown(const std::map<std::string, std::string>& f) {
    return Field(f, "code") == "20000" || Field(f, "sub_code") == "ACQ.SYSTEM_ERROR";
}

}  // namespace

RefundResult AlipayClient::Refund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult res;
    if (p.currency != "CNY") {
        res.state = RefundResult::State::kFailed;
        res.message = "Alipay trades are in CNY only";
        return res;
    }
    Call call = Post(m, "alipay.trade.refund",
                     BizContent({{"out_trade_no", p.slip_id},
                                 {"refund_amount", domain::FormatDecimal(p.amount, 2)},
                                 {"out_request_no", p.refund_id},
                                 {"refund_reason", p.reason}}));
    if (!call.ok) {
        // Unsent (keys, connect) or unanswered: either way asking again is safe and decides.
        res.timeout = call.timeout;
        res.message = call.error;
        return res;
    }
    res.message = Said(call.fields);
    if (Unknown(call.fields)) return res;
    if (Field(call.fields, "code") != "10000") {
        res.state = RefundResult::State::kFailed;  // 40004: a definite refusal, e.g. over the amount
        return res;
    }
    if (Field(call.fields, "out_trade_no") != p.slip_id) {
        res.message = "refund answered for another trade";
        return res;
    }
    res.provider_refund_id = Field(call.fields, "trade_no");
    if (Field(call.fields, "fund_change") == "Y") {
        // refund_fee is what the whole trade has had back: this refund included, and never more
        // than it was paid. One that cannot be is no record of this refund: unknown, and the
        // query by out_request_no says what it is.
        const std::string fee = Field(call.fields, "refund_fee");
        const std::int64_t back = domain::ParseProviderAmount(fee, 2).value_or(-1);
        if (back < p.amount || back > p.paid_amount) {
            res.message = "fund_change Y, but the trade refunded " + http::FitUtf8(fee, 32) +
                          " cannot include " + domain::FormatDecimal(p.amount, 2) + " of a payment of " +
                          domain::FormatDecimal(p.paid_amount, 2);
            return res;
        }
        res.state = RefundResult::State::kOk;
        res.message = "fund_change Y, trade refunded " + Field(call.fields, "refund_fee");
        return res;
    }
    // fund_change N: this call moved nothing. The query says whether this refund exists.
    RefundResult q = QueryRefund(m, p);
    if (q.state == RefundResult::State::kOk) return q;
    res.state = RefundResult::State::kProcessing;
    res.message = "fund_change N; query: " + q.message;
    return res;
}

RefundResult AlipayClient::QueryRefund(const providers::Merchant& m, const providers::RefundParams& p) {
    RefundResult res;
    Call call = Post(m, "alipay.trade.fastpay.refund.query",
                     BizContent({{"out_trade_no", p.slip_id}, {"out_request_no", p.refund_id}}));
    if (!call.ok) {
        res.timeout = call.timeout;
        res.message = call.error;
        return res;
    }
    res.message = Said(call.fields);
    if (Field(call.fields, "code") != "10000") return res;  // not found, or no answer: unknown
    if (Field(call.fields, "out_trade_no") != p.slip_id ||
        (!Field(call.fields, "out_request_no").empty() &&
         Field(call.fields, "out_request_no") != p.refund_id)) {
        res.message = "refund query answered for another refund";
        return res;
    }
    res.provider_refund_id = Field(call.fields, "trade_no");
    const std::string amount = Field(call.fields, "refund_amount");
    const std::string status = Field(call.fields, "refund_status");
    // No refund_amount: Alipay has no such refund (yet); asking again with the same id is safe.
    if (amount.empty() || (!status.empty() && status != "REFUND_SUCCESS")) {
        res.message = amount.empty()
                          ? "no refund " + p.refund_id + (status.empty() ? "" : " (" + status + ")")
                          : "refund_amount " + amount + ", refund_status " + status;
        res.not_known = amount.empty() && status.empty();
        res.disputed = !amount.empty();  // a refund of some amount, in a status we do not know
        return res;
    }
    // Stated: an amount that is unreadable, or none at all (0.00), is not ours (-1, never believed).
    const std::int64_t minor = domain::ParseProviderAmount(amount, 2).value_or(-1);
    res.amount = minor > 0 ? minor : -1;
    res.state = RefundResult::State::kOk;
    res.message = "refund_status " + (status.empty() ? std::string("(none)") : status) + ", " + amount;
    return res;
}

}  // namespace orderpay::alipay

// What a provider is asked to refund and what it answers (Provider::Refund, QueryRefund,
// ConfirmRefund), and the one rule for a repeat of a refund sent before.
#pragma once

#include <cstdint>
#include <string>

namespace orderpay::providers {

/// One refund as the provider is asked to make it. `refund_id` is ours and is the provider's
/// refund request number (WeChat out_refund_no, Alipay out_request_no, PayPal-Request-Id), so
/// asking twice refunds once.
struct RefundParams {
    std::string refund_id;
    std::string slip_id;           // the paid slip (out_trade_no)
    std::string txn_id;            // the provider's id of the payment (transaction_id, trade_no, capture id)
    std::string provider_ref;      // the provider's own payment id kept on the slip (PayPal order id)
    std::int64_t amount = 0;       // to give back, minor units
    std::int64_t paid_amount = 0;  // what the slip was paid (WeChat wants total_fee)
    std::string currency;
    std::string reason;      // shown to the buyer by some providers; UTF-8, already length-checked
    std::string notify_url;  // where the provider reports the result (pay/re_<id>), if it does
    /// The provider's id of this refund once an answer named it (PayPal's refund id): a query
    /// asks by it when set; QueryRefund works without it too.
    std::string provider_refund_id;
    /// The refund was sent before (it is PROCESSING): a provider whose request id may be forgotten
    /// looks for the refund before sending it again.
    bool sent_before = false;
    /// The caller may read but must not cause a refund (`orderpay refund finish`): a provider
    /// whose query would otherwise send the request again (PayPal without its refund id) only
    /// looks, and answers unknown where it would have sent.
    bool read_only = false;
};

struct RefundResult {
    enum class State {
        kOk,          // the money went back
        kProcessing,  // accepted; the result comes later (notification or query)
        kFailed,      // definitive refusal: the refund will not happen
        kUnknown,     // no answer or an answer we cannot read: ask again by query
    } state = State::kUnknown;
    std::string provider_refund_id;
    // As the provider reports it, in minor units of the refund's currency; 0: not said (Alipay);
    // -1: said, but not an amount of that currency (another currency, unreadable), never believed.
    std::int64_t amount = 0;
    std::string message;  // the provider's code/message for the refund note (no secrets)
    bool timeout = false;
    bool stuck = false;  // kProcessing that only an operator can move on (PaidEvent::Refund::stuck)
    // kFailed because this call never reached the provider's refund (no connection, no token, our
    // credentials or certificate refused): certain for this call, silent about an earlier one
    // under the same refund id, so a repeat of a refund already sent must not be failed on it.
    bool not_sent = false;
    // kFailed because the money is already refunded (PayPal's 422 REFUND_AMOUNT_EXCEEDED,
    // CAPTURE_FULLY_REFUNDED): on a repeat of a refund sent before, perhaps by that first request,
    // once PayPal no longer recognises its request id. Only a first send may fail on it.
    bool already_refunded = false;
    // kUnknown because the provider answered that it has no such refund (WeChat REFUNDNOTEXIST or
    // RESOURCE_NOT_EXISTS, Alipay's query without refund_amount, PayPal's 404 or an order that lists
    // none under our id): an answer, unlike a timeout or a refusal to say.
    bool not_known = false;
    // kUnknown although the provider reports money moved, just not as this refund can be recorded
    // (two refunds under our id, an unreadable refund id): only an operator at the provider can
    // tell, and nothing may free its amount meanwhile.
    bool disputed = false;
    // ConfirmRefund only: the provider's refund by the id asked is not the one the message
    // claimed (another invoice or capture), or the provider knows no refund by it.
    bool not_this_refund = false;
    // ConfirmRefund only: the merchant's refund number the provider's record carries (PayPal's
    // invoice_id), which for a refund of ours is our refund id; "" when it carries none.
    std::string refund_no;
};

/// `r` answered a repeat of a refund sent before under the same refund id. A kFailed that says
/// nothing about the first request (this one was not sent, or was refused as already refunded,
/// perhaps by that first request) becomes kUnknown: FAIL would free the amount for a second
/// refund of the same money. Every path that repeats a sent refund goes through this one rule.
inline RefundResult AsRepeatOfASentRefund(RefundResult r) {
    if (r.state == RefundResult::State::kFailed && (r.not_sent || r.already_refunded)) {
        r.state = RefundResult::State::kUnknown;
        r.message = std::string(r.not_sent ? "repeat not sent" : "repeat refused as already refunded") +
                    ", the first may have been carried out: " + r.message;
    }
    return r;
}

}  // namespace orderpay::providers

// A provider's notifications in provider-neutral terms, from the raw request to the reply the
// provider must be given: what provider.hpp's notification methods take and answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orderpay::providers {

/// What a verified notification says, in provider-neutral terms.
struct PaidEvent {
    std::string slip_id;
    std::string txn_id;
    std::int64_t amount = 0;  // minor units; -1 when the message's amount is not one (never matches)
    std::string currency;
    std::string app_id;
    std::string mch_id;
    bool paid = false;      // the provider says the money is collected
    bool closed = false;    // the provider says the trade ended unpaid: fail an unpaid slip
    std::string status;     // the provider's own status word, for the inbox
    bool approved = false;  // the buyer approved: we complete it (Provider::Complete) if the slip is live
    std::string event_id;   // the provider's id of this message (PayPal WH-...), for dedupe
    /// The provider's own id of the payment the message is about, when it names one beside our
    /// slip id (PayPal's order id): it must then be the slip's provider_ref.
    std::string order_ref;
    /// Set when the message reports a refund's result (WeChat v2 refund notification, v3
    /// REFUND.*, PayPal PAYMENT.CAPTURE.REFUNDED) rather than a payment: `slip_id` is the refunded
    /// slip and `paid`/`closed`/`approved` stay false.
    struct Refund {
        std::string refund_id;           // ours (out_refund_no / PayPal invoice or request id); may be empty
        std::string provider_refund_id;  // the provider's
        std::int64_t amount = 0;         // minor units, as the provider reports it (0: not reported)
        bool ok = false;                 // the money went back
        bool failed = false;             // the refund will not happen
        // Taken from the merchant but not delivered (WeChat ABNORMAL / v2 CHANGE: the buyer's
        // card refused it): neither ok nor failed. It stays counted until the operator finishes it
        // at WeChat (apply-abnormal-refund, or the merchant platform) and a query says SUCCESS.
        bool stuck = false;
        std::string currency;            // as the provider reports it ("": not reported)
        bool amount_unreadable = false;  // reported, but not an amount of that currency: refused
        // What the refunded payment was, as the message states it (WeChat's total_fee /
        // amount.total): 0 not stated, -1 stated but unreadable. Another than the slip's names
        // another payment, and finishes nothing.
        std::int64_t paid_total = 0;
        // What the whole payment has had back so far, as the message states it (Alipay's
        // refund_fee): 0 not stated, -1 stated but unreadable. Less than this refund, or more than
        // the payment, does not bear the refund out.
        std::int64_t refunded_total = 0;
    };
    std::optional<Refund> refund;
    /// The provider says a payment it made was taken back from the merchant since (PayPal's
    /// PAYMENT.CAPTURE.REVERSED: a chargeback the buyer won); `txn_id` is the payment's id. It
    /// claims no money, and is only a cue to ask the provider (app/notify_reversal).
    bool reversed = false;
    /// A reversal told as PayPal documents it, as a refund of the capture: that refund's own id
    /// (the resource's), by which its record is asked when the order does not show REVERSED.
    std::string reversal_id;
};

/// A notification as it reached us, before anything is believed. Headers use their CGI names
/// ("HTTP_WECHATPAY_SERIAL"); CONTENT_TYPE is its own field.
struct RawNotification {
    std::string method;  // "POST", or "GET" for a browser return
    std::string content_type;
    std::map<std::string, std::string> headers;
    std::string query;             // raw query string
    std::string body;              // raw body bytes
    std::int64_t received_at = 0;  // epoch seconds it reached us (0: now); freshness windows use it
};

/// A parsed, not yet verified notification: enough to find the slip whose merchant must have
/// signed it.
struct Notice {
    bool parsed = false;
    std::string error;         // why it did not parse
    std::string slip_id;       // the slip (out_trade_no) it is about, as the message says
    std::string provider_ref;  // or the provider's own payment id, when that is all it names
    bool may_settle = true;    // false: a browser return, which proves but never settles
    /// false: the message carries no signature at all (PayPal's buyer return and cancel): its
    /// "valid" check means only that it names a slip, so no reply may say it was verified.
    bool signed_message = true;
    /// The slip is named only inside a part sealed for one merchant (WeChat v3's encrypted
    /// resource): OpenNotification with that merchant names it.
    bool sealed = false;
    /// Which of the provider's merchants can open a sealed notice: "v3", those whose options say
    /// "api":"v3"; "v2", all the others (as the provider itself tells them apart); empty: any. WeChat's v3
    /// notices open only with a v3 merchant's APIv3 key, its v2 refund notices only with a v2 merchant's key.
    std::string sealed_api;
    std::vector<std::pair<std::string, std::string>> fields;  // decoded fields, in message order
};

/// What one merchant's keys made of a sealed notice (Provider::OpenNotification).
enum class OpenOutcome {
    kRefused,       // this merchant's, or it cannot tell, and it does not verify: its reason counts
    kNotAddressed,  // sealed for someone else (another account, API or key): its reason says little
    kOpened,        // verified and opened: Notice::slip_id names the slip
};                  // kRefused first: a default-made outcome opens nothing

/// What checking a notification's signature found (Provider::CheckNotification).
enum class SignatureCheck {
    kInvalid,    // it does not verify, or cannot be made to: refused, never acted on
    kValid,      // verified with the merchant's key; the event is filled
    kUnchecked,  // the key to check it with could not be had now (its host unreachable, a
                 // download budget spent): neither proved nor refuted, so tried again later
};               // kInvalid first: a default-made result proves nothing

/// What the provider must be told. Each maps to exact reply bytes the provider documents.
enum class NotifyAnswer {
    kAccepted,   // recorded: stop sending (settled, duplicate, or a status we acknowledge)
    kMalformed,  // could not be parsed
    kRefused,    // forged, or does not match its slip: nothing changed
    kError,      // we failed while handling it: send it again later
};

struct ProviderReply {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
};

}  // namespace orderpay::providers

// The one interface every payment provider implements, covering its whole life: merchant
// fields, create, query, close, and its notifications from raw request to reply bytes. Handlers
// and the CLI never see provider wire formats; src/providers/registry.cpp lists the providers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderpay/providers/http_client.hpp"
#include "orderpay/providers/notice.hpp"
#include "orderpay/providers/refund_types.hpp"

namespace orderpay::providers {

/// A merchant account as stored in `merchants`. `api_key` is secret: never log or return it.
struct Merchant {
    std::string id;
    std::string provider;  // "wx", "zfb", "paypal"
    std::string app_id;
    std::string mch_id;
    std::string sign_type;
    std::string api_key;
    std::string options;  // JSON object text
};

enum class PayKind { kQrcode, kJsapi, kScan, kLink };

struct CreateParams {
    std::string slip_id;  // out_trade_no
    std::int64_t amount = 0;
    std::string currency;
    std::string description;
    PayKind kind = PayKind::kQrcode;
    std::string openid;     // kJsapi
    std::string auth_code;  // kScan
    std::string client_ip;
    std::string notify_url;
    std::int64_t expire_epoch_s = 0;
    /// Called just before a scan payment that did not settle is voided (cancelled or reversed):
    /// a void can refund a payment made meanwhile, so the caller records first that it may
    /// (store::MarkVoiding). May throw: then nothing is voided and the outcome stays unknown.
    std::function<void()> before_void;
};

enum class Outcome {
    kPending,  // the shopper has to act (scan the QR, confirm in the app): slip WAIT
    kPaid,     // money collected synchronously (scan pay)
    kFailed,   // definitive refusal: slip FAIL
    kUnknown,  // timeout / system error that queries could not resolve: slip WAIT, ask later
};

struct CreateResult {
    Outcome outcome = Outcome::kUnknown;
    std::string re_tp = "NONE";  // QRCODE, JSON, LINK, NONE
    std::string re_obj;          // QR text, JSON object text, or URL
    std::string txn_id;          // when kPaid
    std::int64_t paid_amount = 0;
    std::string paid_currency;
    std::string message;  // provider's error code/message for the slip note (no secrets)
    // kFailed scan payments only: why the provider refused, in its own words (its code and its
    // cashier text, or "not confirmed in time"), for the till to act on: empty when the refusal
    // is not the provider's answer (a transport or key error), whose text is for the log only.
    std::string decline;
    bool timeout = false;      // the outcome is unknown because the provider did not answer
    std::string provider_ref;  // the provider's own id for this payment (PayPal's order id), if any
    // kFailed after a void that found the trade paid and gave the money back (see VoidResult):
    // the payment's transaction id, so the payment and its refund are both recorded.
    std::string reversed_txn;
};

struct QueryResult {
    enum class State {
        kPaid,
        kApproved,  // the buyer approved; no money moves until we complete it (PayPal capture)
        kNotPaid,
        kPaying,
        kClosed,
        kFailed,
        kNotFound,
        kUnknown
    } state = State::kUnknown;
    std::string txn_id;
    std::int64_t amount = 0;
    std::string currency;
    std::string message;
    // Paid, then taken back from the merchant by the provider (PayPal's capture REVERSED: a
    // chargeback): state kFailed, and txn_id names the payment taken back.
    bool reversed = false;
    // Paid, then refunded at the provider in part or whole (WeChat's trade_state REFUND, PayPal's
    // capture PARTIALLY_REFUNDED): state kPaid all the same (the money did arrive), and what the
    // provider says of those refunds, for the record a settlement on it writes
    // (app/query_refunded.cpp). Ours among them are told apart by their request number.
    struct RefundSeen {
        std::string no;  // the merchant's request number (out_refund_no, PayPal invoice_id); may be ""
        std::string id;  // the provider's refund id
        std::int64_t amount = -1;  // minor units of `currency`; -1: not said, or not in that currency
    };
    bool refunded = false;
    std::vector<RefundSeen> refunds;  // empty: the provider lists none (WeChat v3 has no listing by trade)
    bool refunds_listed = false;      // `refunds` is the provider's own list (its sum is what went back)
};

struct CloseResult {
    bool closed = false;        // the provider will not accept payment on this slip any more
    bool already_paid = false;  // too late: it was paid (query and settle it)
    std::string message;
    // closed, but only after the buyer paid and the provider refunded it in the same step (Alipay's
    // cancel of a code scanned meanwhile answers action=refund): that payment's transaction id.
    // Its paid notification may already have settled the order, or may still come.
    std::string reversed_txn;
};

/// What voiding a trade (WeChat reverse, Alipay cancel) achieved.
struct VoidResult {
    bool done = false;         // the trade can no longer take money
    std::string reversed_txn;  // it had been paid, and the void refunded it: the transaction id
};

/// How `orderpay merchant add` hands a provider its flags. Secrets come from files (or stdin),
/// never from argv.
class MerchantInput {
  public:
    virtual ~MerchantInput() = default;
    virtual std::optional<std::string> Flag(const std::string& name) const = 0;
    /// A switch (--platform-certificates): given or not.
    virtual bool Has(const std::string& name) const = 0;
    /// The secret in the file the flag names ("-" = stdin); throws when the flag is absent.
    virtual std::string Secret(const std::string& flag) const = 0;
    /// The flag's file path made absolute (files are read by the service later); nullopt if absent.
    virtual std::optional<std::string> Path(const std::string& flag) const = 0;
};

/// A merchant that cannot be added: the message says which flag is wrong.
struct MerchantError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
/// The flags were right, but a key or certificate they name cannot be used (not PEM, the wrong
/// kind of key, the wrong length, not the certificate's): the CLI says it in one line, exit 1,
/// not as a usage error.
struct MerchantRefusal : MerchantError {
    using MerchantError::MerchantError;
};

/// A cache all workers of a deployment share (the database), for what a provider must not fetch
/// on every call (PayPal's OAuth2 token). Values may be secret: never logged.
class SharedCache {
  public:
    virtual ~SharedCache() = default;
    virtual std::optional<std::string> Get(const std::string& key) = 0;
    virtual void Put(const std::string& key, const std::string& value, std::int64_t ttl_s) = 0;
    virtual void Drop(const std::string& key) = 0;
    /// Takes `key` for `ttl_s` seconds when it is absent or expired: true for exactly one caller
    /// of all workers in that time. A pace that every worker keeps together.
    virtual bool Claim(const std::string& key, std::int64_t ttl_s) = 0;
};

/// What judging one notification may spend on fetching verification keys it does not hold
/// (WeChat v3 platform certificates). A forged notice names a key nobody has: it must not become
/// a gateway call for every merchant that might have sent it.
struct KeyFetches {
    bool cached_only = false;  // the keys this process holds, nothing fetched or read
    int gateway_calls = 1;     // calls to the provider still allowed
    bool missed = false;       // set by the provider: a key it could fetch was not at hand
};

struct Timeouts {
    long connect_ms = 3000;
    long total_ms = 10000;
};

/// Why a provider cannot charge an amount, known before anything is written.
struct ChargeRefusal {
    enum class Kind { kAmount, kCurrency } kind;
    std::string why;
};

class Provider {
  public:
    virtual ~Provider() = default;

    /// "wx", "zfb": the pay-type prefix, the notification route re_<id>, merchants.provider.
    virtual std::string_view Id() const = 0;

    // Merchant setup: the usage lines for `merchant add`, and the stored merchant built from
    // the flags, with every file and key checked now rather than at the first payment.
    virtual std::string_view MerchantUsage() const = 0;
    virtual Merchant MakeMerchant(const std::string& id, const MerchantInput& in) const = 0;

    /// The provider's own limits (currencies, smallest and largest amount), checked before an
    /// order or slip is written.
    virtual std::optional<ChargeRefusal> CheckCharge(std::int64_t amount,
                                                     std::string_view currency) const = 0;

    // Payments. Called with no transaction open.
    virtual CreateResult Create(const Merchant& m, const CreateParams& p) = 0;
    virtual QueryResult Query(const Merchant& m, const std::string& slip_id) = 0;
    virtual CloseResult Close(const Merchant& m, const std::string& slip_id) = 0;
    /// Close for a scan payment's slip (PayKind::kScan): expiry, a retired slip, reconcile. A
    /// provider whose scan trades are not ended by its close (WeChat: reverse) says so here.
    virtual CloseResult EndScan(const Merchant& m, const std::string& slip_id) { return Close(m, slip_id); }

    /// A provider that addresses payments by its own id (CreateResult::provider_ref, kept on the
    /// slip) is asked with it; the others by our slip id alone.
    virtual QueryResult QueryByRef(const Merchant& m, const std::string& slip_id,
                                   const std::string& provider_ref) {
        (void)provider_ref;
        return Query(m, slip_id);
    }
    /// Completes a payment the buyer approved (PayPal: capture). Called only for a live slip of a
    /// payable order, with no transaction open; answers like a query (kPaid with the amount).
    virtual QueryResult Complete(const Merchant& m, const std::string& slip_id,
                                 const std::string& provider_ref) const {
        (void)m, (void)slip_id, (void)provider_ref;
        QueryResult r;
        r.message = "nothing to complete";
        return r;
    }
    /// Refunds. Called with no transaction open, after the refund row was committed; both are
    /// idempotent on p.refund_id. A provider that does not refund answers false to Refunds() and
    /// is never asked.
    virtual bool Refunds() const { return false; }
    /// Why merchant `m` cannot refund through orderpay although the provider can ("" when it
    /// can): asked before a refund is written, so one that could never be sent is refused with
    /// nothing written rather than recorded FAIL as if the provider had refused it.
    virtual std::string RefundBlocker(const Merchant& m) const {
        (void)m;
        return {};
    }
    virtual RefundResult Refund(const Merchant& m, const RefundParams& p) {
        (void)m, (void)p;
        RefundResult r;
        r.state = RefundResult::State::kFailed;
        r.message = "this provider does not refund";
        return r;
    }
    virtual RefundResult QueryRefund(const Merchant& m, const RefundParams& p) {
        (void)m, (void)p;
        RefundResult r;
        r.message = "this provider does not refund";
        return r;
    }

    /// `orderpay notify verify` only: an input standing in for what the live path fetches (PayPal:
    /// "cert-file", a PEM taken as given, and "webhook-id"). False: this provider takes no such input.
    virtual bool SetOfflineInput(const std::string& name, const std::string& value) {
        (void)name, (void)value;
        return false;
    }
    /// The shared cache of this process's context; providers that need none ignore it.
    virtual void UseCache(SharedCache* cache) { (void)cache; }
    /// For the operator's `inbox replay`, which judges stored notices up to its --limit with no
    /// request flood driving it: a provider that paces key downloads against forged notices
    /// (PayPal's new certificate URLs) raises that pace (bounded: the URLs are the senders'), or a
    /// flood's stored rows would spend it before the genuine notice among them is reached, and
    /// leave that one `error` again.
    virtual void LiftKeyFetchPace() {}

    // Notifications on pay/re_<id>. Parse must not trust anything; Verify checks the signature
    // with the merchant of the slip the notice names and fills the event.
    virtual bool AcceptsMethod(std::string_view method) const { return method == "POST"; }
    /// True for a provider that sends every event of the merchant account to one URL (PayPal's
    /// webhooks), so a verified message naming no slip of ours is some other integration's: it is
    /// acknowledged (and kept in the inbox) rather than refused and retried for days.
    virtual bool AcknowledgesForeignEvents() const { return false; }
    /// True for a provider whose notification signature does not cover the whole message
    /// (PayPal signs only a CRC32 of the body, which anyone holding one genuine transmission can
    /// match with a body of their own): its "paid" is then a cue, and the payment settles only on
    /// the answer of our own query (QueryByRef), as an approval settles only on Complete's.
    virtual bool SettlesOnOwnQuery() const { return false; }
    /// True when the merchant's own refund number (QueryResult::RefundSeen::no, a refund
    /// notification's refund_id: WeChat's out_refund_no, Alipay's out_request_no) names one refund
    /// of a payment, so an OUTSIDE report is found by it first (app::RefundReportedBefore). False
    /// where it is free text two refunds may share (PayPal's invoice_id): found by the provider's id.
    virtual bool RefundNamesUnique() const { return true; }
    /// That query (called only when SettlesOnOwnQuery, with no transaction open): answers like
    /// QueryByRef, whose answer it is.
    virtual QueryResult ConfirmPaid(const Merchant& m, const std::string& slip_id,
                                    const std::string& provider_ref) const {
        (void)m, (void)slip_id, (void)provider_ref;
        QueryResult r;
        r.message = "nothing to confirm with";
        return r;
    }
    /// The same for a refund a notification reports (called only when SettlesOnOwnQuery, with no
    /// transaction open): the provider's own record of refund p.provider_refund_id, which must be
    /// of payment p.txn_id and, when p.refund_id is set, ours by that id (not_this_refund
    /// otherwise). Only ever a read: a confirmation never sends a refund.
    virtual RefundResult ConfirmRefund(const Merchant& m, const RefundParams& p) const {
        (void)m, (void)p;
        RefundResult r;
        r.message = "nothing to confirm with";
        return r;
    }
    virtual Notice ParseNotification(const RawNotification& raw) const = 0;
    virtual bool VerifyNotification(const Merchant& m, const Notice& n, PaidEvent& out,
                                    std::string& reason) const = 0;
    /// VerifyNotification with a third answer, kUnchecked, for a provider whose keys are fetched
    /// (PayPal's certificate URLs): a key it could not fetch now is no evidence of forgery, and
    /// the notice is answered as a temporary failure (resent) and kept for `inbox replay`.
    /// VerifyNotification is true exactly when this is kValid.
    virtual SignatureCheck CheckNotification(const Merchant& m, const Notice& n, PaidEvent& out,
                                             std::string& reason) const {
        return VerifyNotification(m, n, out, reason) ? SignatureCheck::kValid : SignatureCheck::kInvalid;
    }
    virtual ProviderReply NotificationReply(NotifyAnswer a) const = 0;
    /// The reply in the dialect of this request, for a provider with more than one (WeChat v2
    /// XML and v3 JSON share pay/re_wx).
    virtual ProviderReply NotificationReplyFor(NotifyAnswer a, const RawNotification& raw) const {
        (void)raw;
        return NotificationReply(a);
    }
    /// A sealed notice (Notice::sealed) opened with merchant `m`: kOpened when `m`'s keys verify
    /// and open it, and then n.slip_id names the slip; kNotAddressed when it is sealed for someone
    /// else. Keys not at hand are fetched only as `fetches` allows, and what is spent is taken off
    /// it. Providers without sealed notices never get here.
    virtual OpenOutcome OpenNotification(const Merchant& m, Notice& n, std::string& reason,
                                         KeyFetches& fetches) const {
        (void)m;
        (void)n;
        (void)fetches;
        reason = "this provider's notifications are not sealed";
        return OpenOutcome::kRefused;
    }
};

}  // namespace orderpay::providers

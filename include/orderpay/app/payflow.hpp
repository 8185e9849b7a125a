// Shared steps of pay/buy and pay/pay: pay-type parsing, and sending a committed NEW slip to its
// provider outside any transaction, then recording what came back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/app/context.hpp"
#include "orderpay/http/errors.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::app {

struct PayType {
    std::string full;    // "wx.qrcode"
    std::string prefix;  // "wx"
    providers::PayKind kind;
};

/// A pay type of the registry (wx.qrcode, wx.jsapi, wx.scan, zfb.qrcode, zfb.scan, ...).
std::optional<PayType> ParsePayType(const std::string& text);

/// Inputs that only some pay types need.
struct PayInputs {
    std::string openid;     // wx.jsapi
    std::string auth_code;  // *.scan
    std::string client_ip;
};

struct Refusal {
    http::Err err;
    std::string why;
};

/// Validates the type-specific inputs: nullopt when fine, else the error to answer and why.
std::optional<Refusal> CheckPayInputs(const PayType& pt, const PayInputs& in);

/// The provider's limits for this fee and currency, before anything is written: nullopt when it
/// can charge them, else invalid.amount or invalid.currency with the provider's reason.
std::optional<Refusal> CheckCharge(const Context& ctx, const PayType& pt, std::int64_t fee,
                                   const std::string& currency);

/// The most of a provider's decline text a reply carries (bytes, cut on a character boundary):
/// enough for a code and a cashier's sentence, never a whole answer body.
inline constexpr std::size_t kDeclineMaxBytes = 200;

/// pay.failed's message naming why the provider declined (`said`: its code and text), e.g. "the
/// payment was declined: AUTHCODEEXPIRE: 二维码已过期…": made UTF-8 text and cut to
/// kDeclineMaxBytes (marked "…"). Empty when `said` is, so the code's own message stands.
std::string DeclinedMessage(std::string_view said);

struct SlipToSend {
    std::string slip_id, order_id, site_id, title;
    std::int64_t amount = 0;
    std::string currency;
    std::int64_t expire_epoch_s = 0;
};

/// What a sent slip answers the buyer.
struct SlipAnswer {
    std::optional<http::Err> err;  // nullopt: the provider took the slip
    std::string order_json;        // the order as it now stands
    std::string msg;               // when not empty, the reply's msg (a decline in the provider's words)
    // The slip failed or went unanswered, but the order is paid all the same: another slip's
    // payment overtook it (a concurrent pay/pay's, a superseded slip paid late). Never to be
    // answered as a payment to try again, which would have the buyer pay twice.
    bool paid_meanwhile = false;
    // The provider took the slip, but it was no longer the order's waiting slip when that was to
    // be recorded (an expiry, a payment or another request's slip came first): its code was not
    // recorded and must not be handed out; order_json shows the order as it now stands.
    bool lost = false;
};

/// The order as it now stands, for a slip that ended with `err` (nullopt: taken or paid):
/// marked paid_meanwhile when it failed but another slip paid the order.
SlipAnswer AnswerFor(Context& ctx, const std::string& slip_id, const std::string& site_id,
                     const std::string& order_id, std::optional<http::Err> err);

/// Sends the slip, records WAIT / OK / FAIL, moves the order to WT (or OK when paid at once),
/// and answers the order as it now stands: from the statement that records a waiting slip,
/// otherwise read again.
SlipAnswer SendSlip(Context& ctx, const PayType& pt, const providers::Merchant& m, const SlipToSend& slip,
                    const PayInputs& in);

/// How often a slip may be asked about. kRateLimited is for buyer-driven requests (pay/check):
/// at most once per query_min_interval_ms across all workers. kNow is for the backstops
/// (reconcile, expiry, a close that answered "already paid"): a worker that claimed the query
/// may have died before asking, or asked just before the buyer paid, and the backstop must
/// not skip the slip for that.
enum class QueryPace { kRateLimited, kNow };

/// Asks the provider about a NEW/WAIT slip and settles or fails it according to the answer.
/// True when the provider was asked. `asked_ago_ms`: how long ago the slip was last asked about,
/// when the caller read it (pay/check's view); inside the interval the claim is not even tried.
/// `settled`: set to what the settlement did when the provider answered paid, so a caller counts
/// only what it settled itself (two hosts' expire runs both find a slip paid; one settles it).
bool RefreshSlip(Context& ctx, const store::SlipRow& slip, QueryPace pace = QueryPace::kRateLimited,
                 std::optional<std::int64_t> asked_ago_ms = std::nullopt,
                 std::optional<store::SettleOutcome>* settled = nullptr);

/// Closes `slip` at its provider (providers::MeteredClose). A payment the close refunded in the
/// same step (CloseResult::reversed_txn, Alipay's cancel) is recorded here with its refund
/// (store::RecordReversal), so the order ends RF whoever closed it.
/// `reversal_first`: set to whether this call's record of such a reversal was the first (false: the
/// close of another process, expire or reconcile on another host, recorded it; the provider
/// answers a repeated cancel as the first).
providers::CloseResult CloseSlip(Context& ctx, providers::Provider& p, const providers::Merchant& m,
                                 const store::SlipRow& slip, bool* reversal_first = nullptr);

/// What asking about a failed slip found.
/// kPaidMeanwhile: found paid, but another process (reconcile or expire on another host, or the
/// payment's notification) had recorded that payment already: nothing for this caller to report.
enum class FailedSlipCheck { kConfirmedClosed, kPaid, kPaidMeanwhile, kStillOpen, kUnknown };

/// Asks the provider about a FAIL slip (superseded, expired, refused) it has not yet confirmed
/// closed. Found paid: recorded exactly as its notification would have been (the order settles
/// if it still can, else the slip is flagged refund_needed). Found open and unpaid: closed again.
FailedSlipCheck CheckFailedSlip(Context& ctx, const store::SlipRow& slip, std::string& detail);

/// What asking about a paid slip a void was sent for (store::VoidedPaidSlips) found.
/// kReversedMeanwhile: closed, and another process (reconcile on another host) had recorded the
/// reversal already: nothing for this caller to report.
enum class VoidedSlipCheck { kReversed, kReversedMeanwhile, kKept, kUnknown };

/// Asks the provider about a paid slip that carries a void's mark: the void's caller may have
/// died after the provider refunded the payment in it and before that was recorded. Closed: the
/// payment and the provider's refund of it are recorded now, as the caller would have. Paid: the
/// payment stands, and the slip leaves the queue.
VoidedSlipCheck CheckVoidedSlip(Context& ctx, const store::SlipRow& slip, std::int64_t min_age_s,
                                std::string& detail);

}  // namespace orderpay::app

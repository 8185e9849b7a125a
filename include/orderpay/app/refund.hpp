// Refunds, for every provider alike: open the row (NEW, checked against what the slip was paid
// under its row lock), claim it (PROCESSING), ask the provider with no transaction open, then
// record the answer (OK / FAIL, or PROCESSING while it is pending or unknown). The operator API,
// the CLI, reconcile and refund notifications all come through here.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "orderpay/app/context.hpp"
#include "orderpay/app/notify.hpp"
#include "orderpay/http/errors.hpp"
#include "orderpay/store/refunds.hpp"

namespace orderpay::app {

struct RefundAnswer {
    std::optional<http::Err> err;  // nullopt: `refund` exists (its st says how far it got)
    std::string why;               // the error's detail, for the reply's msg and the CLI
    std::optional<store::RefundRow> refund;
    bool replay = false;  // the idempotency key named a refund made before
    bool sent = false;    // found NEW: sent by this request, or by the process holding it just then
    // too_much for a refund of all that is left (no amount) when nothing is: said so, not
    // "exceeds". `paid` and `taken` (refunds not FAIL) in minor units.
    bool nothing_left = false;
    std::int64_t paid = 0, taken = 0;
};

/// Why the payment `slip` cannot be refunded through orderpay ("" when it can): its provider
/// does not refund, its merchant is gone, or the merchant lacks what refunds need (a WeChat Pay
/// v2 merchant without its API certificate). e.www.refund.unsupported, nothing written. Nothing
/// blocks the replay of `key` when it names a refund of this slip that was sent already: the
/// retry of a request that timed out gets that refund, not a refusal that reads as "nothing was
/// refunded" (review s25-diff #8); a NEW one would be sent now, so it is blocked as a new one is.
std::string RefundBlocker(Context& ctx, const store::SlipRow& slip,
                          const std::optional<std::string>& key = std::nullopt);

/// Opens the refund and sends it. A definitive refusal by the provider answers
/// e.www.refund.failed with the refund (FAIL, its amount free again).
RefundAnswer RequestRefund(Context& ctx, const store::RefundRequest& req);

// kBusy: another process holds the refund's talk lock (store::RefundTalk): nothing was asked.
// kDisputed: the provider reports money moved in a way that cannot be recorded (another amount,
// a status we do not know, two refunds under our id): left for an operator at the provider.
// kHeld: a NEW refund not sent because its payment's provider has since contradicted a recorded
// refund of it (store::FindRefundConflict).
enum class RefundCheck { kOk, kFailed, kPending, kUnknown, kBusy, kDisputed, kHeld };

/// Reconcile: a NEW refund is sent (its worker died before asking); a PROCESSING one is asked
/// about, and asked for again (the same refund id, so at most once) when the provider does not
/// know it. Both hold its talk lock: kBusy, with nothing done, while another process holds it.
RefundCheck ResolveRefund(Context& ctx, const store::RefundRow& listed, std::string& detail);

/// Writes what the provider said of refund `r`: OK/FAIL once; a pending or unknown answer is noted
/// on it, and an OK for another amount is not believed (noted, kUnknown), for an operator.
RefundCheck RecordRefundAnswer(Context& ctx, const store::RefundRow& r, const providers::RefundResult& res,
                               std::string& detail);

/// One provider call about refund `r`; an exception is an unknown outcome (the request may have
/// reached the provider).
providers::RefundResult AskProvider(const store::RefundRow& r,
                                    const std::function<providers::RefundResult()>& call);

/// What `orderpay refund finish` did with the operator's word.
enum class OperatorFinish {
    kRecorded,        // the operator's word is recorded (the provider has no such refund, or, when
                      // the operator said so, gave no answer)
    kAlready,         // the refund already was what the operator says
    kConfirmed,       // the provider's own final word is the same: it is recorded
    kContradicted,    // the provider's own final word is the other: it is recorded, not the operator's
    kUnderWay,        // the provider says it is still under way (pending, or stuck): nothing changed
    kDisputed,        // the provider reports money moved, not as recorded (another amount, two refunds
                      // under our id, an unreadable id): nothing changed, for the provider's console
    kNoAnswer,        // the provider gave no answer (unreachable, refused, unreadable): nothing changed
    kBusy,            // a sender or reconcile touched it too recently: a request may be in flight
    kTooYoung,        // `fail` for a refund under a day old: it may still be on its way
    kRefusedNew,      // OK for a refund never sent: it cannot have gone through
    kRecordedBefore,  // finished otherwise before: not changed
    kMoved,           // something else touched it while the command ran: not changed
    kNoRefund,
    kCorrected,  // FAIL corrected to OK: a conflict on record said the provider refunded it, and
                 // its own record says so now (or, when the operator said so, gives no answer)
    kNoRoom,     // that correction refused: the slip's other refunds (OK, or in flight) already
                 // cover what it would add: not changed
};
std::string_view ToString(OperatorFinish o);

struct OperatorWord {
    bool ok = false;
    std::string note;                // why, in the operator's words (checked text)
    bool despite_no_answer = false;  // record it even when the provider gives no answer at all
};

struct OperatorAnswer {
    OperatorFinish outcome = OperatorFinish::kNoRefund;
    std::string detail;                      // what the provider said, or why nothing changed
    std::optional<store::RefundRow> refund;  // as it is now
};

/// The operator's word on a refund orderpay cannot resolve by itself. A NEW refund (never sent)
/// may be failed, which cancels it. A PROCESSING one is asked about once, read-only (nothing is
/// ever sent), and only when nothing has touched it for a sender's worth of time: the provider's
/// own final word is recorded instead of the operator's; one under way, or reporting money moved
/// that cannot be recorded, is left alone. The operator's word is recorded where the provider
/// answers it has no such refund, or gives no answer and `despite_no_answer`; `fail` only for a
/// refund a day old; and only if nothing touched the refund meanwhile (under its row lock).
/// `ok` for a FAIL refund a refund conflict on record says its provider refunded (answered,
/// notified or confirmed OK) corrects it to OK, on the provider's own record asked again the same
/// way (or, with `despite_no_answer`, when it gives none), never when it says otherwise; any other
/// finished refund is left as it is.
OperatorAnswer FinishAsOperator(Context& ctx, const std::string& refund_id, const OperatorWord& word);

/// The refund as the operator API and `refund --json` show it (pure): money in major units.
std::string RenderRefund(const store::RefundRow& r, bool replay = false);

/// What the provider is told of refund `r` (pure, without the notify url): `sent_before` when it
/// is PROCESSING, so a repeat looks the refund up before asking for it again.
providers::RefundParams ParamsOf(const store::RefundRow& r);

/// The note of a refund the provider took from the merchant but could not deliver: still counted
/// against the slip, and only the operator can move it on at the provider.
extern const std::string kStuckNote;

/// A verified refund-result notification (PaidEvent::refund): finishes the refund it names. From
/// a provider whose signature does not bind the whole message (SettlesOnOwnQuery), only on the
/// provider's own record of that refund (ConfirmRefund), never on the message's word. A report
/// of a refund orderpay did not make is written here, on the stored row `row_id`, under the
/// slip's row lock (NotifyDecision::written), so it and a query's record of the same refund, or
/// its own resend, make one report however they interleave.
NotifyDecision DecideRefundNotice(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                                  const std::string& row_id);

}  // namespace orderpay::app

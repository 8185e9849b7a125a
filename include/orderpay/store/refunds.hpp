// Refunds and the operators' API keys. A refund is opened (NEW) by one statement that checks the
// slip's paid amount against its other refunds under the slip's row lock (migration 011), claimed
// (PROCESSING) before its provider is asked, and finished (OK / FAIL) by a conditional UPDATE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderpay/db/connection.hpp"
#include "orderpay/domain/states.hpp"

namespace orderpay::store {

struct RefundRow {
    std::string id, order_id, slip_id, site_id, provider, merchant_id;
    std::int64_t amount = 0;
    std::string currency, reason;
    domain::RefundState st = domain::RefundState::kNew;
    std::string provider_refund_id, note, requested_by;
    std::optional<std::string> idempotency_key;
    std::int64_t ct = 0;  // epoch ms
    std::optional<std::int64_t> ok_at;
    // From the refunded slip, for the provider call.
    std::string txn_id, provider_ref;
    std::int64_t paid_amount = 0;
};

struct RefundRequest {
    std::optional<std::string> site;     // required with order; with slip it restricts the slip
    std::string order;                   // the order whose paying slip is refunded, or
    std::optional<std::string> slip;     // this slip (a refund_needed late payment)
    std::optional<std::int64_t> amount;  // minor units; nullopt: all that is left
    std::string reason, requested_by;
    std::optional<std::string> idempotency_key;
    bool despite_conflict = false;  // the CLI's --despite-conflict: the operator checked the provider
};

enum class OpenOutcome { kCreated, kExisting, kKeyConflict, kNoOrder, kNoSlip, kNotPaid, kTooMuch };

struct OpenResult {
    OpenOutcome outcome = OpenOutcome::kNoOrder;
    std::string refund_id;  // kCreated, kExisting (and the other refund for kKeyConflict)
    std::string detail;
    // kTooMuch: what the slip was paid and what its refunds not FAIL take of it, minor units.
    std::int64_t paid = 0, taken = 0;
};

/// The reason of the provider's latest report in the last week that contradicts a recorded refund
/// of the slip `req` names ("conflict: refund ..."), or, given `since_ms`, one made after that at
/// any age; nullopt when there is none, or when `req`'s key already names a refund of that slip
/// (a replay answers its refund).
std::optional<std::string> FindRefundConflict(db::Connection& c, const RefundRequest& req,
                                              std::optional<std::int64_t> since_ms = std::nullopt);

/// The chargeback on record of the slip `req` names (the inbox row's reason, "no refund of ours
/// named CAPTURE: chargeback: ..."), at any age; nullopt when there is none, or when `req`'s key
/// already names a refund of that slip (a replay answers its refund).
std::optional<std::string> FindRefundChargeback(db::Connection& c, const RefundRequest& req);

/// Opens a refund (NEW) with a new id, or answers why not; nothing is written unless kCreated.
OpenResult OpenRefund(db::Connection& c, const RefundRequest& req);

/// Adds ", sent: cli --despite-conflict" to a NEW refund's requested_by (once).
void MarkSentDespiteConflict(db::Connection& c, const std::string& id);

/// The refund `key` names in `site` (an idempotency key, the operator's or the CLI's words).
std::optional<RefundRow> FindRefundByKey(db::Connection& c, const std::string& site, const std::string& key);

/// A refund with its slip's payment ids; an id that cannot be one is not looked up.
std::optional<RefundRow> FindRefund(db::Connection& c, const std::string& id);

/// Whether orderpay asked for a refund of the slip that took money or may have (any not FAIL).
bool SlipRefundedByUs(db::Connection& c, const std::string& slip_id);
/// Whether one of the slip's refunds is still NEW or PROCESSING.
bool SlipRefundInFlight(db::Connection& c, const std::string& slip_id);

/// The refund a provider knows by its own refund id.
std::optional<RefundRow> FindRefundByProviderId(db::Connection& c, const std::string& provider,
                                                const std::string& provider_refund_id);

/// NEW -> PROCESSING: true for the one caller that may now ask the provider.
bool ClaimRefund(db::Connection& c, const std::string& id);

/// The right to talk to a refund's provider: held by a sender from before its claim until the
/// answer is recorded, by reconcile's query (and repeat), and by the operator's look and word, so
/// that no one decides a refund while another process is sending it or asking about it (review
/// s23-finish H-B). A session advisory lock: never waited for (Try), let go on destruction, and
/// with its holder's session if the holder dies. A session the server ends (a failover,
/// pg_terminate_backend) ends the lock while its process may live on: a sender asks StillHeld()
/// right before each request, and sends nothing once it is gone.
class RefundTalk {
  public:
    /// nullopt while another session holds it.
    static std::optional<RefundTalk> Try(db::Connection& c, const std::string& refund_id);
    RefundTalk(RefundTalk&& o) noexcept
        : c_(std::exchange(o.c_, nullptr)), id_(std::move(o.id_)), session_(o.session_) {}
    RefundTalk& operator=(RefundTalk&&) = delete;
    ~RefundTalk();
    /// Still held by this session (one round trip): false after a reconnect or if the server
    /// let it go.
    bool StillHeld() const;

  private:
    RefundTalk(db::Connection& c, std::string id) : c_(&c), id_(std::move(id)), session_(c.Session()) {}
    db::Connection* c_;
    std::string id_;
    std::uint64_t session_;
};

/// Whether some session holds the refund's talk lock now (a request about it on its way), without
/// taking it.
bool RefundTalkBusy(db::Connection& c, const std::string& refund_id);

/// Who holds a refund's talk lock, for the operator (CLI, unprepared): the program, its
/// backend's pid and address, since when; empty when no one does.
std::string RefundTalkHolder(db::Connection& c, const std::string& refund_id);

struct FinishResult {
    std::string outcome;  // finished, duplicate, conflict, no_refund (and moved: FinishRefundAsOperator)
    std::optional<domain::OrderState> order_st;
};

/// NEW/PROCESSING -> OK or FAIL, and the order to RF when this completes the refund of the slip
/// that paid it (orderpay_refund_finish). A second result changes nothing.
FinishResult FinishRefund(db::Connection& c, const std::string& id, bool ok,
                          const std::string& provider_refund_id, const std::string& note);

/// The provider's answer about refund `id` (to our request or query: `said_ok`, its words `said`)
/// contradicts the result recorded before (FAIL when it says OK, OK when it says FAIL): kept in
/// the inbox as a refund conflict (reason "conflict: refund ID answered OK, recorded FAIL", method
/// ANSWER), which reconcile lists and which holds new refunds of the slip, as a notification's.
/// The new inbox row's id; nullopt when the refund is not so (any more) or the same contradiction
/// is on record already.
std::optional<std::string> RecordRefundContradiction(db::Connection& c, const std::string& id, bool said_ok,
                                                     const std::string& said);

/// When a refund was last touched, as the operator's command judges it (CLI, unprepared): every
/// sender claims (lm) and every reconcile stamps (queried_at) before it asks the provider, so a
/// request may be in flight for a while after either.
struct RefundActivity {
    std::string st, lm, queried_at;  // exact, as text: compared again under the row lock
    std::int64_t idle_ms = 0;        // since the later of lm and queried_at
    std::int64_t age_ms = 0;         // since it was written
};
std::optional<RefundActivity> RefundActivityOf(db::Connection& c, const std::string& id);

/// The operator's word on a refund (`orderpay refund finish`): NEW/PROCESSING -> OK or FAIL as
/// FinishRefund does, but only while the refund is exactly as `seen` (state, lm, queried_at) under
/// its row lock: nothing claimed, noted, asked about or finished it since the command judged it.
/// Outcome "moved" otherwise (nothing changed).
FinishResult FinishRefundAsOperator(db::Connection& c, const std::string& id, const RefundActivity& seen,
                                    bool ok, const std::string& note);

/// Whether a refund conflict on record names FAIL refund `id` as answered, notified or confirmed
/// OK by its provider (the reasons app/refund.cpp and app/refund_notice.cpp write): the only FAIL
/// refund the operator may correct to OK (CorrectRefund).
bool RefundConflictSaysOk(db::Connection& c, const std::string& id);

/// FAIL -> OK for a refund a conflict on record says the provider refunded (migration 030's
/// orderpay_refund_correct), as an OK finish records it (the order RF when the whole counted
/// payment is back), under the slip's row lock. Outcomes: finished, duplicate (already OK),
/// no_conflict, not_failed, too_much and in_flight (the slip's other refunds leave no room for
/// it: `detail` says what), no_refund.
struct CorrectResult {
    std::string outcome;
    std::optional<domain::OrderState> order_st;
    std::string detail;
};
CorrectResult CorrectRefund(db::Connection& c, const std::string& id, const std::string& note);

/// The provider accepted the refund without a result, or did not answer: it stays PROCESSING
/// with the note (and the provider's refund id when it gave one).
void NoteRefund(db::Connection& c, const std::string& id, const std::string& note,
                const std::string& provider_refund_id);

/// Refunds NEW or PROCESSING for at least `min_age_s`, least recently asked first.
std::vector<std::string> RefundsDue(db::Connection& c, int limit, std::int64_t min_age_s);
void StampRefundQueried(db::Connection& c, const std::string& id);

/// Operator listing, newest first: id, order_id, slip_id, site_id, provider, amount, currency,
/// st, reason, requested_by, note, ct (epoch ms).
db::Result ListRefunds(db::Connection& c, const std::optional<std::string>& site, int limit);

/// refund_needed slips the OK refunds do not cover yet: id, order_id, site_id, amount, currency,
/// refunded (OK), refunding (NEW/PROCESSING), note.
db::Result SlipsToRefund(db::Connection& c);

// API keys. A key reads "opk_<id>_<secret>": the id finds the row, and the SHA-256 of the whole
// key is compared with the stored one in constant time.
struct ApiKey {
    std::string id, site_id;
    bool revoked = false;
};

struct IssuedKey {
    std::string id, key;  // the key is shown once and never stored
};

/// nullopt when the site does not exist.
std::optional<IssuedKey> IssueApiKey(db::Connection& c, const std::string& site);

/// The key's row when the key is one we issued (revoked or not); nullopt for anything else.
std::optional<ApiKey> FindApiKey(db::Connection& c, const std::string& key);

/// Revokes by key or by id; false when no live key matched.
bool RevokeApiKey(db::Connection& c, const std::string& key_or_id);

/// id, site_id, ct (epoch ms), revoked (t/f).
db::Result ListApiKeys(db::Connection& c, const std::optional<std::string>& site);

}  // namespace orderpay::store

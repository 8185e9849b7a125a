// The SQL text of refunds' statements and the operator API's key lookup (listed for preparing
// in statements.cpp's AllStatements).
#include "orderpay/store/statements.hpp"
#include "store/sql_text.hpp"

namespace orderpay::store {

// Refunds (migration 011). Opening checks and inserts under the slip's row lock; every later
// change names the state it leaves.
const db::Statement kRefundOpen{"refund_open",
                                "SELECT outcome, refund_id, detail FROM orderpay_refund_open($1, $2, $3, "
                                "$4::bigint, $5, $6, $7, $8)"};
#define REFUND_SELECT \
    "SELECT r.id, r.order_id, r.slip_id, r.site_id, r.provider, r.merchant_id, r.amount, r.currency, " \
    "r.reason, r.st, coalesce(r.provider_refund_id, '') AS provider_refund_id, r.note, r.requested_by, " \
    "r.idempotency_key, " MS("r.ct") " AS ct, " MS("r.ok_at") " AS ok_at, " \
    "coalesce(s.provider_txn_id, '') AS txn_id, coalesce(s.provider_ref, '') AS provider_ref, " \
    "s.amount AS paid_amount FROM refunds r JOIN pay_slips s ON s.id = r.slip_id "
const db::Statement kRefundGet{"refund_get", REFUND_SELECT "WHERE r.id = $1"};
// A refund of the slip orderpay asked for that took money or may have (not failed).
const db::Statement kRefundOfSlip{"refund_of_slip",
                                  "SELECT 1 FROM refunds WHERE slip_id = $1 AND st <> 'FAIL' LIMIT 1"};
// A refund of the slip still in flight (NEW, PROCESSING): its money is neither given back nor free.
const db::Statement kRefundInFlightOfSlip{
    "refund_in_flight_of_slip",
    "SELECT 1 FROM refunds WHERE slip_id = $1 AND st IN ('NEW', 'PROCESSING') LIMIT 1"};
// The refund a site's idempotency key already names (its UNIQUE (site_id, idempotency_key)).
const db::Statement kRefundByKey{"refund_by_key",
                                 REFUND_SELECT "WHERE r.site_id = $1 AND r.idempotency_key = $2"};
// A refund notification that names only the provider's refund id (PayPal's); migration 012's
// index finds it.
const db::Statement kRefundByProviderId{"refund_by_provider_id",
                                        REFUND_SELECT "WHERE r.provider = $1 AND r.provider_refund_id = $2"};
// A refund contradicted by its provider's later report (refund_notice's "conflict: refund ...",
// kept `ignored`) leaves the slip's refundable amount in doubt: it was paid out perhaps, yet
// counts free. New refunds of the slip wait while reconcile lists it (the same reports, the same
// week), except the replay of a key already used for a refund of this slip, which only answers
// that refund (app/refund holds it if it was never sent). With $5, a refund's creation time (ms),
// a report made after it counts at any age too: a refund asked for before the report and never
// sent stays held until an operator acts, not just for the week (review s25-diff #2). Existing
// columns only, so this build serves on a database not migrated yet.
const db::Statement kRefundConflict{
    "refund_conflict",
    // The order by its primary key alone (another site's order names no slip): with the site in
    // the condition too, a generic plan made on a new shop's empty table can take the
    // (site_id, buyer_id, ct) index and read all of a site's orders (tests/integration/test_plans).
    "WITH s AS (SELECT id, site_id FROM pay_slips WHERE id = coalesce($3::text, "
    "(SELECT CASE WHEN site_id = $1::text THEN pay_id END FROM orders WHERE id = $2::text)) "
    "AND ($1::text IS NULL OR site_id = $1::text)) "
    "SELECT n.reason FROM s JOIN notifications n ON n.slip_id = s.id "
    "WHERE n.verdict = 'ignored' AND n.reason ~ " REFUND_CONFLICT_RE
    " AND " REFUND_CONFLICT_OPEN("n") " AND (n.ct > now() - " REFUND_CONFLICT_WEEK
                                      " OR n.ct > to_timestamp($5::bigint / 1000.0)) AND NOT EXISTS (SELECT "
                                      "1 FROM refunds r WHERE r.site_id = "
                                      "s.site_id AND r.idempotency_key = $4::text "
                                      "AND r.slip_id = s.id) ORDER BY n.id DESC LIMIT 1"};
// A provider's answer (to our request, or reconcile's query) that contradicts the result another
// path recorded first ($2: the refund's state, the one contradicted; $3: the conflict's reason,
// which names the refund, what was said and what is recorded, and nothing else), kept in the inbox
// beside the slip as a notification's conflict is (ANSWER_CONFLICT_METHOD): reconcile lists it, new
// refunds of the slip wait, the inbox keeps it. Once per contradiction: not while the refund is
// otherwise by now (a second answer of the same finish), nor when the same reason is on record;
// two at once are one by migration 029's index (ON CONFLICT, which a database not migrated yet
// does without: two processes cannot hold the refund's talk lock at once anyway).
const db::Statement kRefundContradicted{
    "refund_contradicted",
    "INSERT INTO notifications (provider, site_id, slip_id, method, body, verdict, reason, decided_at) "
    "SELECT s.provider, s.site_id, s.id, " ANSWER_CONFLICT_METHOD
    ", convert_to($4, 'UTF8'), 'ignored', $3, now() "
    "FROM refunds r JOIN pay_slips s ON s.id = r.slip_id WHERE r.id = $1 AND r.st = $2 "
    "AND $3 ~ " REFUND_CONFLICT_RE
    " AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.slip_id = s.id "
    "AND n.method = " ANSWER_CONFLICT_METHOD " AND n.reason = $3) ON CONFLICT DO NOTHING RETURNING id"};
// A refund of a payment its provider took back (a chargeback on record, CHARGEBACK_RE, at any
// age: the inbox keeps it for good) is refused before anything is written: the provider would
// refuse it, and "all that is left" counts money the buyer already has. The slip as
// kRefundConflict finds it, and the same exception for the replay of a key already used for a
// refund of that slip (it answers that refund; one never sent is failed unsent by app/refund).
const db::Statement kRefundChargeback{
    "refund_chargeback",
    "WITH s AS (SELECT id, site_id FROM pay_slips WHERE id = coalesce($3::text, "
    "(SELECT CASE WHEN site_id = $1::text THEN pay_id END FROM orders WHERE id = $2::text)) "
    "AND ($1::text IS NULL OR site_id = $1::text)) "
    "SELECT n.reason FROM s JOIN notifications n ON n.slip_id = s.id "
    "WHERE " CHARGEBACK_ROW("n") " AND NOT EXISTS (SELECT 1 FROM refunds r "
    "WHERE r.site_id = s.site_id AND r.idempotency_key = $4::text AND r.slip_id = s.id) "
    "ORDER BY n.id LIMIT 1"};
const db::Statement kRefundClaim{
    "refund_claim", "UPDATE refunds SET st = 'PROCESSING', lm = now() WHERE id = $1 AND st = 'NEW'"};
// RefundTalk's lock: a key pair of its own ('RFND', the id's hash), apart from the migrations'
// single bigint key. Two ids sharing a hash only make one wait for the other's send.
const db::Statement kRefundTalkTry{"refund_talk_try",
                                   "SELECT pg_try_advisory_lock(1380339268, hashtext($1)) AS got"};
const db::Statement kRefundTalkDone{"refund_talk_done",
                                    "SELECT pg_advisory_unlock(1380339268, hashtext($1)) AS held"};
const db::Statement kRefundTalkHeld{
    "refund_talk_held",
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND classid = 1380339268 AND objid = hashtext($1)::oid AND objsubid = 2 AND granted) AS held"};
// Held by any session (a sender, reconcile, the operator): a notification only looks, never takes
// it, so its own concurrent copies do not hold each other off.
const db::Statement kRefundTalkBusy{
    "refund_talk_busy",
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1380339268 "
    "AND objid = hashtext($1)::oid AND objsubid = 2 AND granted) AS busy"};
const db::Statement kRefundFinish{
    "refund_finish", "SELECT outcome, order_st FROM orderpay_refund_finish($1, $2::boolean, $3, $4)"};
// Before its refund is recorded: a refund in flight that fails later is then taken as the
// provider's (migration 015).
const db::Statement kSlipReversed{
    "slip_reversed",
    "UPDATE pay_slips SET reversed = true, lm = now() WHERE id = $1 AND st = 'OK' AND NOT reversed"};
// The stock of an order refunded whole by the void of the slip that paid it, when that void is
// where orderpay first learnt of the payment: no one saw the order paid, so nothing can have
// shipped and the goods go back on the shelf. Once: stock_held turns false here, as at expiry.
const db::Statement kOrderReleaseVoided{
    "order_release_voided",
    "UPDATE orders o SET stock_held = false, lm = now() FROM pay_slips s WHERE s.id = $1 AND s.reversed "
    "AND o.id = s.order_id AND o.pay_id = s.id AND o.or_st = 'RF' AND o.stock_held "
    "RETURNING o.site_id, o.id"};
const db::Statement kRefundNote{"refund_note",
                                "UPDATE refunds SET note = left($2, 500), provider_refund_id = "
                                "coalesce(nullif($3, ''), provider_refund_id), "
                                "lm = now() WHERE id = $1 AND st IN ('NEW', 'PROCESSING')"};
// A held refund sent by its key's replay with the operator's --despite-conflict: said on the row
// as a refund opened with it says it (requested_by, at most 80 characters), once.
const db::Statement kRefundSentDespite{
    "refund_sent_despite",
    "UPDATE refunds SET requested_by = left(requested_by || ', sent: cli --despite-conflict', 80), "
    "lm = now() WHERE id = $1 AND st = 'NEW' AND strpos(requested_by, '--despite-conflict') = 0"};
const db::Statement kRefundsDue{"refunds_due",
                                "SELECT id FROM refunds WHERE st IN ('NEW', 'PROCESSING') "
                                "AND ct < now() - make_interval(secs => $2::float8) "
                                "ORDER BY queried_at NULLS FIRST, ct LIMIT $1"};
const db::Statement kRefundStampQueried{"refund_stamp_queried",
                                        "UPDATE refunds SET queried_at = now() WHERE id = $1"};
// The operator API's key by its id; the handler compares the hash in constant time.
const db::Statement kApiKeyGet{"api_key_get",
                               "SELECT id, site_id, encode(key_hash, 'hex') AS key_hash, "
                               "revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1"};

}  // namespace orderpay::store

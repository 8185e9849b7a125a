// The SQL text of the slip queues the timers work through (`orderpay reconcile`: waiting slips,
// open slips of paid orders, failed slips to confirm closed, the attention list), listed for
// preparing in statements.cpp's AllStatements.
#include "orderpay/store/statements.hpp"
#include "store/sql_text.hpp"

namespace orderpay::store {

const db::Statement kSlipsWaitingDue{
    "slips_waiting_due",
    "SELECT id FROM pay_slips WHERE st IN ('NEW', 'WAIT') AND NOT superseded "
    "AND ct < now() - make_interval(secs => $2::float8) ORDER BY queried_at NULLS FIRST, ct LIMIT $1"};

// A slip left open after its order was paid through another one (a superseded slip paid late
// settles the order; the slip the order then pointed to stayed WAIT and payable at its
// provider). Failed here, it joins the failed slips reconcile closes at the provider.
const db::Statement kSlipsOfPaidOrdersFail{
    "slips_of_paid_orders_fail",
    "UPDATE pay_slips s SET st = 'FAIL', superseded = true, "
    "note = 'order paid through slip ' || o.pay_id, lm = now() FROM orders o "
    "WHERE s.id IN (SELECT w.id FROM pay_slips w JOIN orders wo ON wo.id = w.order_id "
    "WHERE w.st IN ('NEW', 'WAIT') AND NOT w.superseded AND wo.or_st NOT IN ('NW', 'WT') "
    "AND wo.pay_id IS DISTINCT FROM w.id LIMIT $1) "
    "AND o.id = s.order_id AND s.st IN ('NEW', 'WAIT') AND o.or_st NOT IN ('NW', 'WT') "
    "AND o.pay_id IS DISTINCT FROM s.id RETURNING s.id, s.order_id, o.pay_id"};
// What `orderpay reconcile` lists for an operator. MISMATCH: an unsettled slip its provider
// reported paid for another amount or currency (a signed notification or a query answer
// rejected by the business checks or by orderpay_settle): money may be held at the provider,
// so it is listed at once, with that answer, rather than after ten minutes as UNKNOWN or at
// expiry as PAID; also a paid slip reported paid again under another transaction id, for a
// week while the provider may resend it (DESIGN: a verified payment is never thrown away).
// REFUND: a kept payment not yet refunded, nor being refunded (what is left is named when part
// of it is in flight); REFUNDING: a kept payment whose refunds in flight (NEW, PROCESSING) cover
// what is left, listed until they end (OK: gone; FAIL: REFUND again); UNKNOWN: open after ten minutes;
// UNCLOSED: failed and not confirmed closed after a day; VOID: a paid slip, not refunded in full, a void was
// sent for ten minutes ago whose provider has not yet said whether the void refunded it (reconcile asks on
// every run, and records the refund or drops the mark once it answers for the slip's own trade); OUTSIDE: a
// paid slip its provider reported refunded by a refund orderpay did not make (the provider's console), not
// covered by our own OK refunds, for a week after that report (also our own order query's record of a
// payment refunded before orderpay recorded it: app/query_refunded.cpp); a slip owed back (REFUND) with
// such a report says so in its detail, since its provider will refuse what it no longer holds (a held
// slip's report the provider's record confirmed is its refund already: app/refund_notice.cpp); CONFLICT: a
// slip one of whose refunds its provider later reported otherwise than recorded (review s23-finish M3), for a
// week after that report; listed as CONFLICT before anything else, REFUND included, so no refund command is
// offered for money a provider may have paid out already (review s24-b H1), and its detail keeps the slip's
// other reasons; CHARGEBACK: such an OUTSIDE report that is a paid slip's payment taken back by its provider
// (PayPal's capture REVERSED, confirmed by our query: CHARGEBACK_RE), listed after CONFLICT and before the
// rest for a week after that report, so no refund command is offered for money already gone back; a slip owed
// back (refund_needed) that was charged back is never REFUND, and stays CHARGEBACK past the week
// (review s29b F2: after a week it was offered `refund --slip` for money the buyer had back). The
// candidates come from one index per reason (pay_slips_refund, pay_slips_waiting, pay_slips_unconfirmed,
// pay_slips_voided_paid, migration 014's two, 017's and 020's), so the cost follows the list, not the shop's
// history. An open slip is never superseded (superseding
// fails it), so the waiting index's NOT superseded loses none.
const db::Statement kSlipsNeedingAttention{
    "slips_needing_attention",
    "WITH cand AS (SELECT id FROM pay_slips WHERE refund_needed "
    "UNION SELECT id FROM pay_slips WHERE st IN ('NEW', 'WAIT') AND NOT superseded "
    "AND ct < now() - interval '10 minutes' "
    "UNION SELECT id FROM pay_slips WHERE st = 'FAIL' AND closed_at IS NULL AND ct < now() - interval '1 "
    "day' "
    "UNION SELECT id FROM pay_slips WHERE voiding_at IS NOT NULL AND st = 'OK' AND NOT reversed "
    "AND voiding_at < now() - interval '10 minutes' "
    "UNION SELECT slip_id FROM notifications WHERE " MISMATCH_REPORT("notifications")
    " "
    "UNION SELECT slip_id FROM notifications WHERE verdict = 'rejected' AND reason ~ " PAID_AGAIN_RE
    " "
    "AND ct > now() - interval '7 days' "
    "UNION SELECT slip_id FROM notifications WHERE verdict = 'ignored' AND reason ~ " OUTSIDE_RE
    " AND ct > now() - interval '7 days' "
    "UNION SELECT slip_id FROM notifications WHERE verdict = 'ignored' AND reason ~ " REFUND_CONFLICT_RE
    " AND ct > now() - " REFUND_CONFLICT_WEEK " AND " REFUND_CONFLICT_OPEN("notifications")
    "), "
    "s AS (SELECT p.*, (SELECT n.reason FROM notifications n WHERE p.st <> 'OK' "
    "AND NOT p.refund_needed AND n.slip_id = p.id AND " MISMATCH_REPORT("n")
    " "
    "ORDER BY n.id DESC LIMIT 1) AS mismatch, "
    "(SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.slip_id = p.id AND r.st = 'OK') AS refunded, "
    "(SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.slip_id = p.id "
    "AND r.st IN ('NEW', 'PROCESSING')) AS refunding, "
    "(SELECT string_agg('refund ' || r.id || ' ' || r.st, ', ' ORDER BY r.ct, r.id) FROM refunds r WHERE "
    "r.slip_id = p.id "
    "AND r.st IN ('NEW', 'PROCESSING')) AS refunding_ids "
    "FROM pay_slips p WHERE p.id IN (SELECT id FROM cand)), "
    "again AS (SELECT DISTINCT ON (n.slip_id) n.slip_id, n.reason FROM notifications n "
    "WHERE n.verdict = 'rejected' AND n.reason ~ " PAID_AGAIN_RE
    " AND n.ct > now() - interval '7 days' "
    "ORDER BY n.slip_id, n.id DESC), "
    "outside AS (SELECT DISTINCT ON (n.slip_id) n.slip_id, n.reason FROM notifications n "
    "WHERE n.verdict = 'ignored' AND n.reason ~ " OUTSIDE_RE " AND n.reason !~ " CHARGEBACK_RE
    " AND n.ct > now() - interval '7 days' ORDER BY n.slip_id, n.id DESC), "
    "chargeback AS (SELECT DISTINCT ON (n.slip_id) n.slip_id, n.reason, n.ct FROM notifications n "
    "WHERE n.slip_id IN (SELECT id FROM cand) AND n.verdict = 'ignored' AND n.reason ~ " OUTSIDE_RE
    " AND n.reason ~ " CHARGEBACK_RE " ORDER BY n.slip_id, n.id DESC), "
    "conflict AS (SELECT DISTINCT ON (n.slip_id) n.slip_id, n.reason FROM notifications n "
    "WHERE n.verdict = 'ignored' AND n.reason ~ " REFUND_CONFLICT_RE
    " AND n.ct > now() - " REFUND_CONFLICT_WEEK " AND " REFUND_CONFLICT_OPEN("n")
    " ORDER BY n.slip_id, n.id DESC), "
    // A slip's OK refunds are summed once (refunded); owed, voiding and outside each compare it.
    // Money owed counts the refunds in flight as given: `refund --slip` refuses them (review
    // s27-attack #4). A slip whose whole debt is in flight is listed REFUNDING, without a command.
    "t AS (SELECT s.*, refund_needed AND amount > refunded + refunding AND chargeback.slip_id IS NULL AS owed, "
    "refund_needed AND amount > refunded AND amount <= refunded + refunding AS in_flight, "
    "voiding_at IS NOT NULL AND st = 'OK' AND NOT reversed "
    "AND voiding_at < now() - interval '10 minutes' AND amount > refunded AS voiding, "
    "again.reason AS again_reason, "
    "CASE WHEN st = 'OK' AND amount > refunded THEN outside.reason END AS outside_reason, "
    "CASE WHEN st = 'OK' AND amount > refunded AND (chargeback.ct > now() - interval '7 days' "
    "OR refund_needed) THEN chargeback.reason END AS chargeback_reason, "
    "conflict.reason AS conflict_reason "
    "FROM s LEFT JOIN again ON again.slip_id = s.id LEFT JOIN outside ON outside.slip_id = s.id "
    "LEFT JOIN chargeback ON chargeback.slip_id = s.id "
    "LEFT JOIN conflict ON conflict.slip_id = s.id) "
    "SELECT id, order_id, site_id, st, amount, currency, "
    "CASE WHEN conflict_reason IS NOT NULL THEN 'CONFLICT' WHEN chargeback_reason IS NOT NULL THEN "
    "'CHARGEBACK' WHEN owed THEN 'REFUND' WHEN in_flight THEN "
    "'REFUNDING' "
    "WHEN coalesce(mismatch, again_reason) IS NOT NULL THEN 'MISMATCH' "
    "WHEN st = 'FAIL' THEN 'UNCLOSED' WHEN voiding THEN 'VOID' WHEN outside_reason IS NOT NULL THEN "
    "'OUTSIDE' "
    "ELSE 'UNKNOWN' END AS kind, "
    "concat_ws('; ', CASE WHEN conflict_reason IS NOT NULL THEN 'the provider contradicts a refund "
    "result orderpay recorded (' || conflict_reason || '); the refund stays as recorded' END, "
    "CASE WHEN chargeback_reason IS NOT NULL THEN 'the provider took the payment back (' || "
    "chargeback_reason || '); the order still counts the payment and its refunds what orderpay "
    "refunded' END, "
    "CASE WHEN refund_needed AND refunding > 0 AND amount > refunded THEN 'refunding ' || refunding || "
    "' (' || refunding_ids || ')' || CASE WHEN owed THEN ', ' || (amount - refunded - refunding) || ' left' "
    "ELSE '' END "
    "END, "
    "coalesce(mismatch, again_reason, CASE WHEN voiding AND NOT owed THEN 'paid; a void was sent at ' || "
    "to_char(voiding_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC and the provider has not said "
    "whether it refunded the payment' END, CASE WHEN outside_reason IS NOT NULL THEN "
    "'the provider reported a refund orderpay did not make (' || outside_reason || '); ' || CASE WHEN "
    "refund_needed THEN 'the order does not count this held payment: check at the provider what it still "
    "holds' ELSE 'the order still counts the payment' END END, nullif(note, ''))) AS detail, "
    "refunded, refunding, refund_needed "
    "FROM t "
    "WHERE owed OR in_flight OR mismatch IS NOT NULL OR again_reason IS NOT NULL OR voiding OR "
    "outside_reason IS NOT NULL "
    "OR conflict_reason IS NOT NULL OR chargeback_reason IS NOT NULL "
    "OR (st IN ('NEW', 'WAIT') AND ct < now() - interval '10 minutes') "
    "OR (st = 'FAIL' AND closed_at IS NULL AND ct < now() - interval '1 day') "
    "ORDER BY ct"};
const db::Statement kSlipConfirmClosed{"slip_confirm_closed",
                                       "UPDATE pay_slips SET closed_at = now() "
                                       "WHERE id = $1 AND st = 'FAIL' AND closed_at IS NULL"};
// Superseded, expired and refused slips: until the provider confirms one closed, a payment
// on it (a lost notification) would otherwise go unseen.
const db::Statement kSlipsUnconfirmed{"slips_unconfirmed",
                                      "SELECT id FROM pay_slips WHERE st = 'FAIL' AND closed_at IS NULL "
                                      "AND ct > now() - interval '30 days' "
                                      "ORDER BY queried_at NULLS FIRST, ct LIMIT $1"};
// Written (and committed) before a void is sent, so a crash between the provider refunding a
// payment in its void and RecordReversal's commit is found again (migration 016).
const db::Statement kSlipMarkVoiding{"slip_mark_voiding",
                                     "UPDATE pay_slips SET voiding_at = now() WHERE id = $1"};
// Paid slips a void was sent for, not known reversed: their provider says which. Marks younger
// than $2 seconds may belong to a void still in flight, whose caller records its own answer
// (a close then a cancel of three tries take under 50 s at the default timeouts). Least
// recently asked first, as every slip queue (migration 016's index).
const db::Statement kSlipsVoidedPaid{
    "slips_voided_paid",
    "SELECT id FROM pay_slips WHERE voiding_at IS NOT NULL AND st = 'OK' "
    "AND NOT reversed AND voiding_at < now() - make_interval(secs => $2::float8) "
    "ORDER BY queried_at NULLS FIRST, voiding_at LIMIT $1"};
// The provider still holds the payment: the void took nothing back, and the slip leaves the queue.
const db::Statement kSlipVoidingDrop{"slip_voiding_drop",
                                     "UPDATE pay_slips SET voiding_at = NULL WHERE id = $1 AND st = 'OK' "
                                     "AND voiding_at < now() - make_interval(secs => $2::float8)"};
// Closed because operators refunded all of it (OK refunds, not ones in flight, which may yet
// fail): the void took nothing back, and the slip leaves the queue without being reversed.
const db::Statement kSlipVoidingDropRefunded{
    "slip_voiding_drop_refunded",
    "UPDATE pay_slips s SET voiding_at = NULL WHERE id = $1 AND st = 'OK' AND NOT reversed "
    "AND voiding_at < now() - make_interval(secs => $2::float8) "
    "AND amount <= (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.slip_id = s.id AND r.st = "
    "'OK')"};
// Asking about a failed slip moves it to the back of the queue (see kSlipsUnconfirmed).
const db::Statement kSlipStampQueried{"slip_stamp_queried",
                                      "UPDATE pay_slips SET queried_at = now() WHERE id = $1"};

}  // namespace orderpay::store

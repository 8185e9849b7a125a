// The SQL text of the notification inbox (a provider's message stored raw on arrival, its verdict,
// webhook event ids, and the rows `orderpay inbox` lists and replays), listed for preparing in
// statements.cpp's AllStatements.
#include "orderpay/store/statements.hpp"
#include "store/sql_text.hpp"

namespace orderpay::store {

// A webhook event redelivered: an earlier row of the same event that was already acted on.
const db::Statement kNotifyEventSeen{
    "notify_event_seen",
    "SELECT id FROM notifications WHERE provider = $1 AND event_id = $2 AND id <> $3 "
    "AND verdict IN ('settled', 'duplicate', 'ignored') LIMIT 1"};
// A chargeback of the slip already confirmed (CHARGEBACK_ROW), through the slip's index.
const db::Statement kNotifyChargeback{
    "notify_chargeback",
    "SELECT n.id FROM notifications n WHERE n.slip_id = $1 AND " CHARGEBACK_ROW("n") " LIMIT 1"};
// A payment our order query found refunded at the provider since (QUERY_REFUNDED_METHOD), recorded
// in the inbox beside the settlement it prompted, in its transaction: an OUTSIDE report (the reason
// $2 starts as OUTSIDE_RE), so reconcile lists the slip OUTSIDE for a week through migration 017's
// index and the inbox keeps it for good, as it does the refund's own notification. No request
// reached us: method QUERY, no address or headers, the body what the provider's answer said ($3).
const db::Statement kNotifyQueryRefunded{
    "notify_query_refunded",
    "INSERT INTO notifications (provider, site_id, slip_id, method, body, verdict, reason, decided_at) "
    "SELECT s.provider, s.site_id, s.id, " QUERY_REFUNDED_METHOD
    ", convert_to($3, 'UTF8'), 'ignored', $2, now() "
    "FROM pay_slips s WHERE s.id = $1 AND $2 ~ " OUTSIDE_RE " RETURNING id"};
// An OUTSIDE report of the slip that names refund $2 (the names after OUTSIDE_RE's words, up to
// the first blank or ':', comma-separated, each escaped by app::ReportName, as $2 is): a refund
// notification's, or a query's record; a chargeback's (its capture's name) is none. Whichever
// came first, the other telling of the same refund is a duplicate of it, not a second report
// (review s30-diff M1). Through the slip's index: the verdict IS TRUE, as CHARGEBACK_ROW's, keeps
// a plan made on an empty inbox there.
const db::Statement kNotifyRefundReported{
    "notify_refund_reported",
    "SELECT id FROM notifications WHERE slip_id = $1 AND (verdict = 'ignored') IS TRUE AND reason "
    "~ " OUTSIDE_RE " AND reason !~ " CHARGEBACK_RE
    " AND $2 = ANY (string_to_array(substring(reason from '^no refund of ours named ([^ :]+)'), ',')) "
    "ORDER BY id LIMIT 1"};
// Any OUTSIDE report of the slip but a chargeback: for an answer that names no refund (WeChat
// v3's), the refund an earlier notification reported may be the one it tells of.
const db::Statement kNotifyOutsideReported{"notify_outside_reported",
                                           "SELECT id FROM notifications WHERE slip_id = $1 AND (verdict = "
                                           "'ignored') IS TRUE AND reason ~ " OUTSIDE_RE
                                           " AND reason !~ " CHARGEBACK_RE " LIMIT 1"};
const db::Statement kNotifySetEvent{
    "notify_set_event", "UPDATE notifications SET event_id = $2 WHERE id = $1 AND event_id IS NULL"};

// A notification's arrival in one round trip: stored raw (headers as form-encoded text, query and
// body as bytea, so any byte survives), only for a site that exists, with
// what its evaluation needs: the slip it names and that slip's merchant, or for an unknown slip
// the site's seller for the provider. $8 = the slip id the message names ('' when unparsed), $9 =
// nginx's request id ('' stores NULL).
const db::Statement kNotifyIntake{
    "notify_intake",
    "WITH st AS (SELECT id FROM sites WHERE id = $2), "
    "ins AS (INSERT INTO notifications (provider, site_id, remote_addr, method, header_form, query, body, "
    "request_id) SELECT $1, st.id, $3, $4, $5, decode($6, 'hex'), decode($7, 'hex'), NULLIF($9, '') FROM st "
    "RETURNING id) "
    "SELECT (SELECT id FROM ins) AS row_id, " PREFIXED_SLIP_COLS("s") ", "
    "coalesce(m.id, sm.id) AS m_id, coalesce(m.provider, sm.provider) AS m_provider, "
    "coalesce(m.app_id, sm.app_id) AS m_app_id, coalesce(m.mch_id, sm.mch_id) AS m_mch_id, "
    "coalesce(m.sign_type, sm.sign_type) AS m_sign_type, coalesce(m.api_key, sm.api_key) AS m_api_key, "
    "coalesce(m.options, sm.options)::text AS m_options "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN pay_slips s ON s.id = $8 "
    "LEFT JOIN merchants m ON m.id = s.merchant_id "
    "LEFT JOIN site_sellers ss ON s.id IS NULL AND ss.site_id = $2 AND ss.prefix = $1 "
    "LEFT JOIN merchants sm ON sm.id = ss.merchant_id"};

// Only a row still undecided (or whose evaluation failed) takes a verdict: a replay racing the
// live request cannot overwrite what the first one decided.
const db::Statement kNotifyVerdict{
    "notify_verdict",
    "UPDATE notifications SET verdict = $2, reason = $3, slip_id = $4, decided_at = now() "
    "WHERE id = $1 AND verdict IN ('received', 'error')"};
#define NOTIFY_COLS \
    "id, provider, site_id, coalesce(slip_id, '') AS slip_id, remote_addr, method, header_form, " \
    "encode(query, 'hex') AS query, encode(body, 'hex') AS body, verdict, reason, " MS("ct") " AS ct, " \
    "coalesce(request_id, '') AS request_id"
// verdict is 'received' or 'error' (inbox replay); the list says so to the planner, so that a
// generic plan may use migration 013's partial index. A bare `ct` in ORDER BY would be the
// output column (milliseconds), which the index does not have: every row found was sorted.
const db::Statement kNotifyReceived{
    "notify_received",
    "SELECT " NOTIFY_COLS
    " FROM notifications WHERE verdict = $3 AND verdict IN ('received', 'error') "
    "AND ct < now() - make_interval(secs => $1::float8) ORDER BY notifications.ct LIMIT $2"};
const db::Statement kNotifyGet{"notify_get", "SELECT " NOTIFY_COLS " FROM notifications WHERE id = $1"};
const db::Statement kNotifyList{"notify_list", "SELECT " NOTIFY_COLS
                                               " FROM notifications WHERE ($1::text IS NULL OR verdict = $1) "
                                               "ORDER BY id DESC LIMIT $2"};

// store::PruneNotifications: a batch of rows decided more than $2 seconds ago with a verdict in $1,
// through migration 021's index (the IN list lets the planner prove it, whatever $1 holds). Never
// an undecided row, nor a report reconcile lists (NOTIFY_KEPT). Rows another run (an expire on
// another host) is deleting are skipped, not waited for: the runs share the work and cannot
// deadlock. The CLI's, run unprepared.
// store::PruneNotifications: a batch of rows older than $2 seconds, oldest first, read in the
// order of an index so that LIMIT ends the scan (with the whole range to choose from, a planner
// that misjudged the rows due read the whole inbox every minute: review s26-diff #2). Rows
// another run (an expire on another host) is deleting are skipped, not waited for: the runs share
// the work and cannot deadlock. The CLI's, run unprepared.
//
// Never verified (UNVERIFIED_RE): rejected as unreadable or not signed by the provider, and kept
// `error` because the signature could not be checked when it came (UNCHECKED_RE: PayPal's
// certificate not downloadable; a genuine webhook is resent for 3 days and settled then, or its
// payment found by reconcile's query). And browsers' returns (RETURN_RE) of every verdict but
// settled: anyone can send them, and none is a report (review s27-attack #2); so too webhooks
// whose provider call was paced (PACED_RE, `error` so that PayPal sends them again), which a
// CRC32 twin makes at will, and those about a slip already paid or closed that asked nothing
// (UNCONFIRMED_RE: the settled row is the payment's record). Of the decided
// verdict $3, through migration 021's index of decided rows, and 013's of undecided ones; no
// other `error` row is ever dropped.
const db::Statement kNotifyPruneUnverified{
    "notify_prune_unverified",
    "DELETE FROM notifications WHERE id IN (SELECT n.id FROM notifications n "
    "WHERE n.verdict = $3::text AND n.verdict IN ('settled', 'duplicate', 'ignored', 'rejected') "
    "AND n.ct < now() - make_interval(secs => $1::float8) AND (n.reason ~ " UNVERIFIED_RE
    " OR n.reason ~ " RETURN_RE " OR n.reason ~ " PACED_RE " OR n.reason ~ " UNCONFIRMED_RE
    ") ORDER BY n.ct LIMIT $2 FOR UPDATE SKIP LOCKED)"};
const db::Statement kNotifyPruneUnchecked{
    "notify_prune_unchecked",
    "DELETE FROM notifications WHERE id IN (SELECT n.id FROM notifications n "
    "WHERE n.verdict = 'error' AND n.verdict IN ('received', 'error') "
    "AND n.ct < now() - make_interval(secs => $1::float8) AND (n.reason ~ " UNCHECKED_RE
    " OR n.reason ~ " RETURN_RE " OR n.reason ~ " PACED_RE
    ") ORDER BY n.ct LIMIT $2 FOR UPDATE SKIP LOCKED)"};
// Whether migration 021's index is there: without it (a CLI upgraded before `orderpay migrate`)
// the retention would read the whole inbox, and `expire` runs it every minute.
const db::Statement kNotifyRetentionIndexed{
    "notify_retention_indexed",
    "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'notifications' "
    "AND indexname = 'notifications_decided'"};
// Decided rows of the verdict $1 (settled, duplicate, ignored or rejected): never a report
// reconcile lists (NOTIFY_KEPT), whatever its age.
const db::Statement kNotifyPrune{
    "notify_prune",
    "DELETE FROM notifications WHERE id IN (SELECT n.id FROM notifications n "
    "WHERE n.verdict = $1::text AND n.verdict IN ('settled', 'duplicate', 'ignored', 'rejected') "
    "AND n.ct < now() - make_interval(secs => $2::float8) AND NOT " NOTIFY_KEPT(
        "n") " ORDER BY n.ct LIMIT $3 FOR UPDATE SKIP LOCKED)"};

}  // namespace orderpay::store

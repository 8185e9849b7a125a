// The SQL text of the operator's writes: accounts and buyer tickets (the CLI and admin/ticket*),
// and the fulfilment of orders (order ship|done, admin/ship|done, and the back office's list of
// what to ship, admin/orders). Listed for preparing in statements.cpp's AllStatements.
#include "orderpay/store/statements.hpp"
#include "store/sql_text.hpp"

namespace orderpay::store {

// Accounts and tickets, for the CLI and the operator API alike (admin/ticket runs them per
// request). An upsert changes only the fields given (review s25-newuser #5), and a concurrent
// one for the same new account waits on the other's row and updates it: created once.
const db::Statement kAccountUpsert{
    "account_upsert",
    "INSERT INTO accounts (id, store_id, name, wx_openid) "
    "SELECT $1, s.id, coalesce($3, ''), nullif($4, '') FROM account_stores s WHERE s.id = $2 "
    "ON CONFLICT (store_id, id) DO UPDATE SET name = coalesce($3, accounts.name), "
    "wx_openid = CASE WHEN $4 IS NULL THEN accounts.wx_openid ELSE nullif($4, '') END "
    "RETURNING 1"};
const db::Statement kSessionInsert{
    "session_insert",
    "INSERT INTO sessions (ticket_hash, store_id, account_id, expires_at) "
    "VALUES (decode($1, 'hex'), $2, $3, now() + make_interval(hours => $4::int)) "
    "RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS expires_at"};
// Ending a ticket moves its expiry to now, so every lookup (expires_at > now()) refuses it from
// the next statement on; only live ones count, and the row stays as the record of its end.
const db::Statement kSessionEnd{
    "session_end",
    "UPDATE sessions SET expires_at = now() WHERE ticket_hash = decode($1, 'hex') "
    "AND ($2::text IS NULL OR store_id = $2) AND expires_at > now()"};
// Found through migration 022's sessions_account index; without it, a scan of every ticket ever
// issued.
const db::Statement kSessionsEndOfAccount{
    "sessions_end_of_account",
    "UPDATE sessions SET expires_at = now() WHERE store_id = $1 AND account_id = $2 AND expires_at > now()"};
// The tickets' retention (`orderpay expire`, `ticket prune`): a batch of at most $2 tickets that
// ended (expired, or were revoked: their expiry is then the moment they ended) more than $1
// seconds ago, oldest first through migration 026's index on expires_at, so LIMIT ends the scan.
// A live ticket (expires_at > now()) is never due, whatever $1: now() - $1 is never after now().
// Rows another run (an expire on another host) is deleting are skipped, not waited for: the runs
// share the work and cannot deadlock. Deleted by their primary key from the array the batch
// locked: as a join, an empty table's generic plan read every ticket to match them. The CLI's,
// run unprepared.
const db::Statement kSessionsPrune{
    "sessions_prune",
    "DELETE FROM sessions WHERE ticket_hash = ANY (ARRAY(SELECT s.ticket_hash FROM sessions s "
    "WHERE s.expires_at < now() - make_interval(secs => $1::float8) "
    "ORDER BY s.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))"};
// Whether migration 026's index is there: without it (a CLI upgraded before `orderpay migrate`)
// the retention would read every ticket ever issued, and `expire` runs it every minute.
const db::Statement kSessionsPruneIndexed{
    "sessions_prune_indexed",
    "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'sessions' "
    "AND indexname = 'sessions_expiry'"};

// The operator's fulfilment of goods (DESIGN.md §3: OK -> SP -> DN; virtual goods are DN when
// paid). Each names the state it leaves. An order whose whole payment is being refunded (its
// refunds that are not FAIL cover it) is neither shipped nor closed: its money is on its way back.
// A refund asked for at the same moment reads as asked right after, which is allowed (README).
// Nor one whose paying slip a void was sent for (Alipay's cancel of a trade paid meanwhile gives
// the money back) until the provider says whether it did: reconcile lists it VOID, and a reversal
// makes the order RF (review s27-diff M2). Nor one whose payment its provider took back (a
// chargeback, confirmed and kept in the inbox for good: CHARGEBACK_RE), through the slip's index.
#define FULFIL_NOT_REFUNDING                                                                               \
    "(SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.slip_id = o.pay_id AND r.st <> 'FAIL') "    \
    "< (SELECT s.amount FROM pay_slips s WHERE s.id = o.pay_id AND (s.voiding_at IS NULL OR s.reversed)) " \
    "AND NOT " CHARGEBACK_OF("o")
const db::Statement kOrderShip{"order_ship",
                               "UPDATE orders o SET or_st = 'SP', sp_at = now(), lm = now() "
                               "WHERE o.id = $1 AND o.site_id = $2 AND o.or_st = 'OK' AND o.tp = 'A' "
                               "AND " FULFIL_NOT_REFUNDING " RETURNING o.or_st"};
const db::Statement kOrderDone{"order_done",
                               "UPDATE orders o SET or_st = 'DN', dn_at = now(), lm = now() "
                               "WHERE o.id = $1 AND o.site_id = $2 AND o.or_st = 'SP' AND o.tp = 'A' "
                               "AND " FULFIL_NOT_REFUNDING " RETURNING o.or_st"};
// The operator's end of an order of goods whose payment its provider took back (`order done
// --charged-back`): OK or SP -> DN, dn_at. DESIGN.md §3 has no state for "paid, then taken back";
// DN is "nothing more to do", and sp_at (left as it is: NULL when it never left) says whether the
// goods went, so no shipment is made up. Only with a chargeback on record (CHARGEBACK_OF), which
// the inbox keeps for good: `orderpay audit` accepts goods DN without sp_at on that record alone.
const db::Statement kOrderCloseChargedBack{"order_close_charged_back",
                                           "UPDATE orders o SET or_st = 'DN', dn_at = now(), lm = now() "
                                           "WHERE o.id = $1 AND o.site_id = $2 AND o.or_st IN ('OK', 'SP') "
                                           "AND o.tp = 'A' AND " CHARGEBACK_OF("o") " RETURNING o.or_st"};
// Why a ship or done changed nothing: the order's state and type, what it was paid, what its
// refunds that are not FAIL hold, and one refund still under way (NEW or PROCESSING).
const db::Statement kOrderFulfilment{
    "order_fulfilment",
    "SELECT o.or_st, o.tp, s.amount AS paid, (SELECT coalesce(sum(r.amount), 0) FROM refunds r "
    "WHERE r.slip_id = o.pay_id AND r.st <> 'FAIL') AS held, (SELECT r.id || ' ' || r.st FROM refunds r "
    "WHERE r.slip_id = o.pay_id AND r.st IN ('NEW', 'PROCESSING') ORDER BY r.ct LIMIT 1) AS under_way, "
    "s.voiding_at IS NOT NULL AND NOT s.reversed AS voiding, " CHARGEBACK_OF("o")
    " AS chargeback, o.sp_at IS NOT NULL AS shipped "
    "FROM orders o LEFT JOIN pay_slips s ON s.id = o.pay_id WHERE o.id = $1 AND o.site_id = $2"};

// The cursor's (ct, id) as a row value, from $3 (microseconds) and $4 (the id).
#define PAGE_AFTER "(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::text)"
// The orders of CTE `page`, each with its lines and current slip, one row per line.
#define PAGE_ORDERS \
    "SELECT (extract(epoch from o.ct) * 1000000)::bigint AS ct_us, " OPERATOR_ORDER_COLS ", " ITEM_COLS("i") \
    ", " PREFIXED_SLIP_COLS("sl") " "                                                                         \
    "FROM page p CROSS JOIN LATERAL (SELECT * FROM orders WHERE id = p.id OFFSET 0) o "                       \
    "LEFT JOIN order_items i ON i.order_id = o.id AND i.order_id = p.id " CURRENT_SLIP_OF("o")               \
    "WHERE o.site_id = $1 ORDER BY o.ct, o.id, i.pos"

// A page of the site's orders in one state, oldest first, after the last one of the page before
// (its ct in microseconds since the epoch, exact as extract's numeric is, and its id: ct alone is
// not unique), each with its lines and current slip as order_view reads one order: one row per
// line. The page is found through migration 024's orders_site_state index in that order (the
// first page starts after 0, before any order), then each of its orders by its id (a lateral
// read by `id = p.id`, as order_view's `id = $2`: `id = ANY(...)` was a sequential scan in a
// plan made on an empty table). One statement, so one snapshot: every order shown is in the
// state asked for, where a statement per order could show one shipped meanwhile.
const db::Statement kOrdersPage{
    "orders_page",
    "WITH page AS MATERIALIZED (SELECT id FROM orders WHERE site_id = $1 AND or_st = $2 "
    "AND (ct, id) > " PAGE_AFTER " ORDER BY ct, id LIMIT $5) " PAGE_ORDERS};

// The same page of the orders that hold money owed back (admin/orders?refund_needed=1): a
// refund_needed slip (a late or double payment) whose OK refunds come to less than it paid, not
// charged back (SLIP_OWES). A
// refund in flight (NEW, PROCESSING) or FAIL'd leaves it listed: until one is OK, the buyer does
// not have the money. In any state ($2 NULL) or one. Found from the held slips, never from the
// site's orders: migration 001's pay_slips_refund (site_id) WHERE refund_needed holds the few
// held slips a site ever has (rare: a payment after expiry, a code paid twice), their refunds by
// refunds_slip, each of their orders by its key alone (lateral, as kOrdersPage reads its page;
// with site_id in it, a generic plan made on an empty table read it through orders_site_state
// with only site_id bound: every order of the site per held slip), then the sort of those few.
// A walk by orders_site_state would read every order of the site to find a handful.
const db::Statement kOrdersHeldPage{
    "orders_held_page",
    "WITH page AS MATERIALIZED (SELECT h.id FROM (SELECT DISTINCT s.order_id AS hid FROM pay_slips s "
    "WHERE s.site_id = $1 AND " SLIP_OWES("s") ") held "
    "CROSS JOIN LATERAL (SELECT id, ct, site_id, or_st FROM orders WHERE id = held.hid OFFSET 0) h "
    "WHERE h.site_id = $1 AND ($2::text IS NULL OR h.or_st = $2) AND (h.ct, h.id) > " PAGE_AFTER " "
    "ORDER BY h.ct, h.id LIMIT $5) " PAGE_ORDERS};

}  // namespace orderpay::store

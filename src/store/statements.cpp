// The SQL text of every statement, in one place (refunds' in refund_statements.cpp, the timers'
// slip queues in reconcile_statements.cpp, the notification inbox's in notify_statements.cpp),
// so a reviewer sees all database access at once, and AllStatements, the list every connection
// prepares.
// Every state change is a conditional UPDATE: the WHERE clause names the state it leaves.
#include "orderpay/store/statements.hpp"

#include <vector>

#include "store/sql_text.hpp"

namespace orderpay::store {

const db::Statement kSiteGet{
    "site_get", "SELECT id, name, account_store, currency, expire_minutes FROM sites WHERE id = $1"};

const db::Statement kSessionGet{"session_get",
                                "SELECT s.store_id, s.account_id, a.wx_openid FROM sessions s "
                                "JOIN accounts a ON a.store_id = s.store_id AND a.id = s.account_id "
                                "WHERE s.ticket_hash = decode($1, 'hex') AND s.expires_at > now()"};

#define MERCHANT_COLS \
    "m.id, m.provider, m.app_id, m.mch_id, m.sign_type, m.api_key, m.options::text AS options"
const db::Statement kSellerGet{"seller_get", "SELECT " MERCHANT_COLS
                                             " FROM site_sellers ss "
                                             "JOIN merchants m ON m.id = ss.merchant_id "
                                             "WHERE ss.site_id = $1 AND ss.prefix = $2"};
const db::Statement kMerchantGet{"merchant_get", "SELECT " MERCHANT_COLS " FROM merchants m WHERE m.id = $1"};
// A sealed notification (WeChat v3) names its slip only inside a part one merchant can open:
// the candidates, the site's own seller first.
const db::Statement kMerchantsOfProvider{
    "merchants_of_provider", "SELECT " MERCHANT_COLS
                             " FROM merchants m WHERE m.provider = $1 "
                             "AND ($3 = '' OR ($3 = 'v3') = (m.options->>'api' IS NOT DISTINCT FROM 'v3')) "
                             "ORDER BY (m.id = (SELECT merchant_id FROM site_sellers "
                             "WHERE site_id = $2 AND prefix = $1)) IS TRUE DESC, m.id LIMIT 100"};

// pay/buy's reads in one round trip: site, the ticket's session, the seller for the pay type's
// prefix, the requested products and the buyer's order under an Idempotency-Key. One row per
// product found (at least one row); the other columns repeat. A product priced in another
// currency than its site's is not for sale (as pay/products does not list it).
const db::Statement kBuyContext{
    "buy_context",
    "SELECT st.id AS site_id_found, st.name AS site_name, st.account_store, st.currency AS site_currency, "
    "st.expire_minutes, se.store_id AS se_store, se.account_id AS se_account, se.wx_openid AS se_openid, "
    "m.id AS m_id, m.provider AS m_provider, m.app_id AS m_app_id, m.mch_id AS m_mch_id, "
    "m.sign_type AS m_sign_type, m.api_key AS m_api_key, m.options::text AS m_options, "
    "io.id AS idem_order, encode(io.idem_hash, 'hex') AS idem_hash, "
    "p.id AS p_id, p.title AS p_title, p.price AS p_price, p.currency AS p_currency "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN sites st ON st.id = $1 "
    "LEFT JOIN LATERAL (SELECT s.store_id, s.account_id, a.wx_openid FROM sessions s "
    "JOIN accounts a ON a.store_id = s.store_id AND a.id = s.account_id "
    "WHERE s.ticket_hash = decode($2, 'hex') AND s.expires_at > now()) se ON true "
    "LEFT JOIN site_sellers ss ON ss.site_id = st.id AND ss.prefix = $3 "
    "LEFT JOIN merchants m ON m.id = ss.merchant_id "
    "LEFT JOIN orders io ON $5::text IS NOT NULL AND io.site_id = st.id AND io.buyer_store = se.store_id "
    "AND io.buyer_id = se.account_id AND io.idem_key = $5 AND io.ct > now() - interval '24 hours' "
    "LEFT JOIN products p ON p.site_id = st.id AND p.id = ANY($4::text[]) AND p.active "
    "AND p.currency = st.currency"};

// Also the row of a product uncounted now (NULL + n stays NULL): the update takes its lock, so a
// `product add --stock` waits for this give-back before it sums the units orders still hold.
const db::Statement kStockGive{"stock_give",
                               "UPDATE products SET stock = stock + $3, lm = now() "
                               "WHERE site_id = $1 AND id = $2"};

// The whole of pay/buy's write (migration 009): idempotency key release, stock in product-id
// order, each product checked still on sale as priced (028), order, lines and slip, in one
// statement and so one transaction. It also answers the expiry the function wrote (`now() +
// expire_minutes`: now() is the transaction's start, the same inside the function), so the
// provider's code expires by the database's clock, not the worker's.
const db::Statement kOrderCreate{
    "order_create",
    "SELECT orderpay_create_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "$17::jsonb, $18, $19::int, $20, decode($21, 'hex'), $22, $23, $24, $25::text[], $26::text[], "
    "$27::bigint[], $28::bigint[], $29::bigint[]), " MS(
        "now() + make_interval(mins => $19::int)") " AS expi"};

// A key names one order for 24 hours; after that the buyer may use it again.
const db::Statement kOrderByIdemKey{
    "order_by_idem_key",
    "SELECT id, encode(idem_hash, 'hex') AS idem_hash FROM orders WHERE site_id = $1 AND buyer_store = $2 "
    "AND buyer_id = $3 AND idem_key = $4 AND ct > now() - interval '24 hours'"};

const db::Statement kOrderGet{"order_get",
                              "SELECT " ORDER_COLS " FROM orders o WHERE o.site_id = $1 AND o.id = $2"};
const db::Statement kItemsGet{"items_get",
                              "SELECT product_id, title, amount, price, subtotal FROM order_items "
                              "WHERE order_id = $1 ORDER BY pos"};
// What an order gives back when it stops holding stock: only the lines that took it from a count
// (migration 018); a line of a product sold uncounted took nothing. The column is read through
// to_jsonb so that this build's orderpayd, which prepares every statement at start, also serves on
// a database not migrated yet (`dpkg -i`, then `orderpay migrate` while it serves): there every
// line counts as taken, as it did before 018.
const db::Statement kItemsTaken{"items_taken",
                                "SELECT product_id, amount FROM order_items i WHERE order_id = $1 "
                                "AND coalesce((to_jsonb(i) ->> 'stock_taken')::boolean, true)"};

// Compare-and-set on pay_id: of two concurrent pay/pay calls only one replaces the slip it saw.
// Not past the order's expiry either (by the database's clock, as the expiry timer reads it): a
// slip swapped into an order expiring during pay/pay would be sent with a code already dead.
const db::Statement kOrderSetPayTp{
    "order_set_pay_tp",
    "UPDATE orders SET pay_id = $2, pay_tp = $3, seller = $4, lm = now() "
    "WHERE id = $1 AND or_st IN ('NW', 'WT') AND pay_id IS NOT DISTINCT FROM $5 AND expi > now()"};

// The whole settlement and, given a notification row, its verdict (migration 010).
const db::Statement kSettle{"settle",
                            "SELECT outcome, detail, verdict, reason, decided "
                            "FROM orderpay_settle($1, $2, $3, $4::bigint, $5, $6::bigint)"};

// The CLI's, run unprepared (CliStatements below), one after the other: orders never tried first,
// in expiry order, then those an earlier run left open, longest ago first, so a stuck few never
// hold back the rest. Both read the open orders past expiry by orders_open_expi; the second sorts
// those it finds (migration 019 builds no index under its lock).
const db::Statement kOrderExpireDue{"order_expire_due",
                                    "SELECT id FROM orders WHERE or_st IN ('NW', 'WT') AND expi < now() "
                                    "AND expire_tried_at IS NULL ORDER BY expi LIMIT $1"};
const db::Statement kOrderExpireRetry{"order_expire_retry",
                                      "SELECT id FROM orders WHERE or_st IN ('NW', 'WT') AND expi < now() "
                                      "AND expire_tried_at IS NOT NULL ORDER BY expire_tried_at LIMIT $1"};
// Where 019 has not run yet (a CLI upgraded before `orderpay migrate`): expiry order, no marks.
const db::Statement kOrderExpireDueUnmarked{
    "order_expire_due_unmarked",
    "SELECT id FROM orders WHERE or_st IN ('NW', 'WT') AND expi < now() "
    "ORDER BY expi LIMIT $1"};
const db::Statement kOrdersHaveExpireTried{"orders_have_expire_tried",
                                           "SELECT 1 FROM pg_attribute WHERE attrelid = 'orders'::regclass "
                                           "AND attname = 'expire_tried_at' AND NOT attisdropped"};
// Expired cache rows are dead (read and claimed only while live, replaced when taken again), but
// a claim per slip (PayPal's return pacing, app/notify_confirm) would otherwise stay for ever:
// `orderpay expire`, every minute, drops those an hour past.
const db::Statement kCachePrune{"cache_prune",
                                "DELETE FROM provider_cache WHERE expires_at < now() - interval '1 hour'"};
const db::Statement kOrderExpireTried{"order_expire_tried",
                                      "UPDATE orders SET expire_tried_at = now() "
                                      "WHERE id = $1 AND or_st IN ('NW', 'WT')"};

// Exactly once: only the transaction that moves the order out of NW/WT gives the stock back.
const db::Statement kOrderExpire{
    "order_expire",
    "UPDATE orders SET or_st = 'FA', fa_at = now(), stock_held = false, lm = now() "
    "WHERE id = $1 AND or_st IN ('NW', 'WT') AND expi < now() RETURNING site_id"};

#define SLIP_COLS \
    "s.id, s.order_id, s.site_id, s.pay_tp, s.provider, s.merchant_id, s.amount, s.currency, s.st, " \
    "s.re_tp, "                                                                                      \
    "s.re_obj, s.provider_txn_id, s.superseded, s.refund_needed, s.note, s.provider_ref, " MS(       \
        "s.ct") " AS ct, " MS("s.paid_at") " AS paid_at, " MS("s.queried_at") " AS queried_at, " \
        SLIP_CODE_AGE("s") " AS code_age_ms"

const db::Statement kSlipInsert{
    "slip_insert",
    "INSERT INTO pay_slips (id, order_id, site_id, pay_tp, provider, merchant_id, amount, "
    "currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};
const db::Statement kSlipGet{"slip_get", "SELECT " SLIP_COLS " FROM pay_slips s WHERE s.id = $1"};
const db::Statement kSlipForUpdate{"slip_for_update",
                                   "SELECT " SLIP_COLS " FROM pay_slips s WHERE s.id = $1 FOR UPDATE"};
const db::Statement kSlipLive{"slip_live", "SELECT " SLIP_COLS
                                           " FROM pay_slips s WHERE s.order_id = $1 AND NOT s.superseded "
                                           "ORDER BY s.ct DESC LIMIT 1"};

// pay/check in one statement. The session counts only for this site's account store, the order
// only for that buyer; every part is a LEFT JOIN so the handler can tell which one was missing.
// One row per order line (at least one row, even when nothing matched).
// Every join of order_items also names the order's id as a parameter. A worker keeps the generic
// plan PostgreSQL chose after a prepared statement's fifth execution until the table is next
// analyzed; chosen on a new shop's near-empty order_items, the join was a sequential scan, and a
// fresh stack under pay/buy load read the whole table once per buy (8.6 k scans, 36.8 M rows in
// 15 s; buy fell from 618 to 487 rps as the table grew). With `i.order_id = $N` the primary key's
// (order_id, pos) index is the cheaper plan at any size. The order itself is read by its id alone
// (OFFSET 0 keeps the planner from merging the site into it): on an empty orders table the index
// on (site_id, buyer_id, ct) cost the same as the primary key, and a plan that took it would read
// every order of the site and filter on the id.
const db::Statement kCheckView{
    "check_view",
    "SELECT st.id AS site_id_found, st.account_store, se.store_id AS se_store, se.account_id AS se_account, "
    "o.id IS NOT NULL AS order_found, " ORDER_COLS ", " ITEM_COLS("i") ", " PREFIXED_SLIP_COLS("sl") ", "
    "(extract(epoch from now() - sl.queried_at) * 1000)::bigint AS s_queried_ago_ms "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN sites st ON st.id = $1 "
    "LEFT JOIN sessions se ON se.ticket_hash = decode($2, 'hex') AND se.expires_at > now() "
    "LEFT JOIN (SELECT * FROM orders WHERE id = $3 OFFSET 0) o ON o.site_id = st.id AND o.buyer_store = se.store_id "
    "AND o.buyer_id = se.account_id AND se.store_id = st.account_store "
    "LEFT JOIN order_items i ON i.order_id = o.id AND i.order_id = $3 "
    CURRENT_SLIP_OF("o")
    "ORDER BY i.pos"};

// An order with its lines and current slip in one statement (one row per line, at least one).
const db::Statement kOrderView{
    "order_view",
    "SELECT " OPERATOR_ORDER_COLS ", " ITEM_COLS("i") ", " PREFIXED_SLIP_COLS("sl") " "
    "FROM (SELECT * FROM orders WHERE id = $2 OFFSET 0) o "
    "LEFT JOIN order_items i ON i.order_id = o.id AND i.order_id = $2 "
    CURRENT_SLIP_OF("o")
    "WHERE o.site_id = $1 ORDER BY i.pos"};

// The provider took the slip: slip NEW -> WAIT, and order NW -> WT only while the slip is still
// its current one (a slip superseded during its provider call must not take the order back).
// Both in one statement, which also answers the order view as it is afterwards: the updated rows
// from RETURNING, the rest as the statement's snapshot saw them (kOrderView's columns).
// Lock order: the slip, then the order, as every settlement takes them (orderpay_settle). The
// planner runs u (pulled first by o) before s, so u's one-time filter on s is what makes s
// update (and lock) the slip before u touches the order; without it a query settling this slip
// at that moment deadlocked with the buy and its buyer got a 500 (test_db_locks.py). The same
// filter leaves the order alone when the slip was no longer NEW (failed or settled meanwhile).
// `fresh` says whether s and u both wrote: when either did not, the row it waited for (a
// settlement's lock on the slip, another slip's settlement or an expiry on the order) may have
// changed after the statement's snapshot, which the rest of the answer comes from.
const db::Statement kSlipWaitView{
    "slip_wait_view",
    "WITH s AS (UPDATE pay_slips SET st = 'WAIT', re_tp = $4, re_obj = $5, note = $6, "
    "provider_ref = coalesce(nullif($7, ''), provider_ref), lm = now() "
    "WHERE id = $3 AND st = 'NEW' RETURNING *), "
    "u AS (UPDATE orders SET or_st = 'WT', wt_at = coalesce(wt_at, now()), lm = now() "
    "WHERE id = $2 AND or_st IN ('NW', 'WT') AND pay_id = $3 AND EXISTS (SELECT 1 FROM s) RETURNING *), "
    "o AS (SELECT * FROM u UNION ALL SELECT * FROM orders WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM u)), "
    "ps AS (SELECT * FROM s UNION ALL "
    "SELECT * FROM pay_slips WHERE order_id = $2 AND id NOT IN (SELECT id FROM s)) "
    "SELECT " ORDER_COLS ", " ITEM_COLS("i") ", " PREFIXED_SLIP_COLS("sl") ", "
    "EXISTS (SELECT 1 FROM s) AND EXISTS (SELECT 1 FROM u) AS fresh "
    "FROM o LEFT JOIN order_items i ON i.order_id = o.id AND i.order_id = $2 "
    "LEFT JOIN LATERAL (SELECT * FROM ps WHERE ps.order_id = o.id "
    "AND (ps.id = o.pay_id OR (o.pay_id IS NULL AND NOT ps.superseded)) ORDER BY ps.ct DESC LIMIT 1) sl ON true "
    "WHERE o.site_id = $1 ORDER BY i.pos"};
const db::Statement kSlipFail{"slip_fail",
                              "UPDATE pay_slips SET st = 'FAIL', note = $2, lm = now() "
                              "WHERE id = $1 AND st IN ('NEW', 'WAIT')"};
const db::Statement kSlipSupersede{"slip_supersede",
                                   "UPDATE pay_slips SET superseded = true, "
                                   "st = CASE WHEN st IN ('NEW', 'WAIT') THEN 'FAIL' ELSE st END, "
                                   "note = $2, lm = now() WHERE id = $1 AND st <> 'OK'"};
// At most once per interval ($2 ms) a worker asks the provider about a waiting slip; an
// interval of 0 (the backstops) always claims.
const db::Statement kSlipClaimQuery{
    "slip_claim_query",
    "UPDATE pay_slips SET queried_at = now() WHERE id = $1 AND st IN ('NEW', 'WAIT') "
    "AND ($2::bigint <= 0 OR queried_at IS NULL "
    "OR queried_at < now() - make_interval(secs => $2::float8 / 1000))"};
// A slip whose sender went away (its worker died between the order's commit and the provider
// call) stays NEW with nothing to send it. After $2 ms (longer than any provider call can take)
// one caller claims it by moving lm, which nothing else changes while a slip is NEW, so of two
// callers only one sends; only while it is still its order's live slip and the order can pay.
// `p` is the row as the statement found it: its lm, the one the claim replaced, is what
// kSlipGiveBackResend puts back.
const db::Statement kSlipClaimResend{
    "slip_claim_resend",
    "UPDATE pay_slips s SET lm = now() FROM orders o, pay_slips p "
    "WHERE s.id = $1 AND p.id = s.id AND s.st = 'NEW' AND NOT s.superseded "
    "AND s.lm < now() - make_interval(secs => $2::float8 / 1000) "
    "AND o.id = s.order_id AND o.pay_id = s.id AND o.or_st IN ('NW', 'WT') "
    "AND o.expi > now() RETURNING s.id, p.lm::text AS prev_lm, s.lm::text AS lm"};
// The claim's holder did nothing to the slip (pay/pay's close failed): lm as it was, so the
// next caller may claim it at once. Only while lm is still the claim's (no one claimed it
// since) and the slip still NEW and not superseded (nothing else moved it on).
const db::Statement kSlipGiveBackResend{"slip_give_back_resend",
                                        "UPDATE pay_slips SET lm = $2::timestamptz WHERE id = $1 "
                                        "AND st = 'NEW' AND NOT superseded AND lm = $3::timestamptz"};
const db::Statement kSlipsOfOrder{
    "slips_of_order", "SELECT " SLIP_COLS " FROM pay_slips s WHERE s.order_id = $1 ORDER BY s.ct"};
const db::Statement kOrderSite{"order_site", "SELECT site_id FROM orders WHERE id = $1"};
const db::Statement kOrderState{"order_state", "SELECT or_st FROM orders WHERE id = $1"};
// Still able to take this slip's money: payable, not past its expiry, and this its current slip.
const db::Statement kOrderPayableNow{"order_payable_now",
                                     "SELECT 1 FROM orders WHERE id = $1 AND or_st IN ('NW', 'WT') "
                                     "AND expi > now() AND pay_id = $2"};
// By the provider's own id of the payment (PayPal's order id) or of its capture (a refund's
// webhook names only the capture); both are unique per provider and PayPal's ids never collide.
const db::Statement kSlipByRef{"slip_by_ref", "SELECT " SLIP_COLS
                                              " FROM pay_slips s WHERE s.provider = $1"
                                              " AND (s.provider_ref = $2 OR s.provider_txn_id = $2) LIMIT 1"};

// Sites' return pages (a browser coming back from the provider is sent there).
const db::Statement kSiteReturnUrl{"site_return_url", "SELECT return_url FROM sites WHERE id = $1"};

const db::Statement kPing{"ping", "SELECT 1"};

std::span<const db::Statement> AllStatements() {
    static const db::Statement* const kAll[] = {
        &kSiteGet,
        &kSessionGet,
        &kAccountUpsert,
        &kSessionInsert,
        &kSessionEnd,
        &kSessionsEndOfAccount,
        &kSellerGet,
        &kMerchantGet,
        &kBuyContext,
        &kStockGive,
        &kOrderCreate,
        &kOrderGet,
        &kItemsGet,
        &kItemsTaken,
        &kSettle,
        &kOrderExpire,
        &kOrderSetPayTp,
        &kSlipInsert,
        &kSlipGet,
        &kSlipForUpdate,
        &kSlipLive,
        &kSlipWaitView,
        &kSlipFail,
        &kSlipSupersede,
        &kSlipClaimQuery,
        &kSlipClaimResend,
        &kSlipGiveBackResend,
        &kSlipsWaitingDue,
        &kNotifyIntake,
        &kNotifyVerdict,
        &kSlipConfirmClosed,
        &kSlipsNeedingAttention,
        &kSlipsOfPaidOrdersFail,
        &kSlipsUnconfirmed,
        &kSlipStampQueried,
        &kSlipMarkVoiding,
        &kSlipsVoidedPaid,
        &kSlipVoidingDrop,
        &kSlipVoidingDropRefunded,
        &kSlipsOfOrder,
        &kOrderSite,
        &kOrderState,
        &kOrderShip,
        &kOrderDone,
        &kOrderCloseChargedBack,
        &kOrderFulfilment,
        &kOrdersPage,
        &kOrdersHeldPage,
        &kOrderByIdemKey,
        &kNotifyReceived,
        &kNotifyGet,
        &kNotifyList,
        &kCheckView,
        &kMerchantsOfProvider,
        &kOrderView,
        &kOrderPayableNow,
        &kSlipByRef,
        &kSiteReturnUrl,
        &kProductsOnSale,
        &kCacheGet,
        &kCachePut,
        &kCacheDrop,
        &kCacheClaim,
        &kNotifyEventSeen,
        &kNotifySetEvent,
        &kNotifyChargeback,
        &kNotifyQueryRefunded,
        &kNotifyRefundReported,
        &kNotifyOutsideReported,
        &kRefundOpen,
        &kSlipReversed,
        &kOrderReleaseVoided,
        &kRefundGet,
        &kRefundOfSlip,
        &kRefundInFlightOfSlip,
        &kRefundByKey,
        &kRefundSentDespite,
        &kRefundClaim,
        &kRefundConflict,
        &kRefundChargeback,
        &kRefundContradicted,
        &kRefundTalkTry,
        &kRefundTalkDone,
        &kRefundTalkHeld,
        &kRefundTalkBusy,
        &kRefundFinish,
        &kRefundNote,
        &kRefundsDue,
        &kRefundStampQueried,
        &kApiKeyGet,
        &kRefundByProviderId,
        &kPing,
    };
    static const std::vector<db::Statement> kList = [] {
        std::vector<db::Statement> v;
        for (const db::Statement* s : kAll) v.push_back(*s);
        return v;
    }();
    return kList;
}

std::span<const db::Statement> CliStatements() {
    static const db::Statement kList[] = {kOrderExpireDue,        kOrderExpireRetry,
                                          kOrderExpireTried,      kOrderExpireDueUnmarked,
                                          kOrdersHaveExpireTried, kCachePrune,
                                          kNotifyPrune,           kNotifyPruneUnverified,
                                          kNotifyPruneUnchecked,  kNotifyRetentionIndexed,
                                          kSessionsPrune,         kSessionsPruneIndexed};
    return kList;
}

}  // namespace orderpay::store

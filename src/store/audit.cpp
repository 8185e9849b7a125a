// One query per invariant, all in one REPEATABLE READ snapshot so a busy shop cannot make two
// checks see different moments. Each query returns (subject, detail) rows that violate it.
#include "orderpay/store/audit.hpp"

#include "store/sql_text.hpp"

namespace orderpay::store {

namespace {

enum class Uses { kNothing, kReplayInterval, kExpireGrace };  // what $1 is, if anything

struct Check {
    InvariantInfo info;
    const char* sql;
    Uses param = Uses::kNothing;
};

const Check kChecks[] = {
    {{"order_has_items", "every order has at least one line"},
     "SELECT o.id, 'no order_items' FROM orders o "
     "WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)"},
    {{"paid_order_one_ok_slip",
      "a paid order (OK, SP, DN, RF) has exactly one OK slip that counts (others are flagged refund_needed), "
      "and it is the order's pay_id"},
     "SELECT o.id, o.or_st || ': ' || count(s.id) || ' counting OK slips, pay_id ' || coalesce(o.pay_id, "
     "'-') "
     "FROM orders o LEFT JOIN pay_slips s ON s.order_id = o.id AND s.st = 'OK' AND NOT s.refund_needed "
     "WHERE o.or_st IN ('OK', 'SP', 'DN', 'RF') "
     "GROUP BY o.id, o.or_st, o.pay_id "
     "HAVING count(s.id) <> 1 OR NOT bool_or(s.id IS NOT DISTINCT FROM o.pay_id)"},
    {{"unpaid_order_no_kept_money",
      "an order that is not paid (NW, WT, FA) holds no OK slip unless it is flagged refund_needed"},
     "SELECT o.id, o.or_st || ' with OK slip ' || s.id FROM orders o JOIN pay_slips s ON s.order_id = o.id "
     "WHERE o.or_st IN ('NW', 'WT', 'FA') AND s.st = 'OK' AND NOT s.refund_needed"},
    {{"ok_slip_has_txn", "every OK slip carries its provider transaction id"},
     "SELECT id, 'OK slip without provider_txn_id' FROM pay_slips WHERE st = 'OK' AND provider_txn_id IS "
     "NULL"},
    {{"txn_unique_per_provider", "a provider transaction id is recorded on one slip only"},
     "SELECT provider || ':' || provider_txn_id, count(*) || ' slips' FROM pay_slips "
     "WHERE provider_txn_id IS NOT NULL "
     "GROUP BY provider, provider_txn_id HAVING count(*) > 1"},
    {{"slip_amount_is_order_fee", "every slip asks for exactly its order's fee, in its currency"},
     "SELECT s.id, 'slip ' || s.amount || ' ' || s.currency || ', order ' || o.fee || ' ' || o.currency "
     "FROM pay_slips s JOIN orders o ON o.id = s.order_id "
     "WHERE (s.amount <> o.fee OR s.currency <> o.currency)"},
    {{"stock_conserved",
      "for every finite-stock product: stock_initial = stock + what orders holding stock took"},
     "SELECT p.site_id || '/' || p.id, 'initial ' || p.stock_initial || ' <> available ' || p.stock || ' + "
     "held ' || "
     "coalesce(h.held, 0) FROM products p LEFT JOIN (SELECT o.site_id, i.product_id, sum(i.amount) AS held "
     "FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.stock_held AND i.stock_taken GROUP BY 1, "
     "2) "
     "h "
     "ON h.site_id = p.site_id AND h.product_id = p.id "
     "WHERE p.stock IS NOT NULL AND p.stock_initial IS DISTINCT FROM p.stock + coalesce(h.held, 0)"},
    // The exemption is exactly store::RecordReversal's release: the payment and the provider's
    // refund recorded in one transaction (one now(): paid_at = ok_at). A notification that
    // settled the slip first paid it earlier, and that order keeps its stock.
    {{"stock_held_matches_state",
      "an expired order (FA) holds no stock, nor does a refunded one (RF) whose payment orderpay first "
      "learnt of from the void that refunded it; every other order does"},
     "SELECT o.id, o.or_st || ' with stock_held ' || o.stock_held FROM orders o "
     "WHERE o.stock_held <> (o.or_st <> 'FA') AND NOT (o.or_st = 'RF' AND NOT o.stock_held "
     "AND EXISTS (SELECT 1 FROM pay_slips s JOIN refunds r ON r.slip_id = s.id WHERE s.id = o.pay_id "
     "AND s.reversed AND r.st = 'OK' AND r.requested_by = 'provider' AND r.ok_at = s.paid_at))"},
    {{"notification_decided", "no notification stays 'received' longer than the replay interval"},
     "SELECT id::text, provider || ' notification received ' || "
     "(extract(epoch from now() - ct))::bigint || ' s ago' FROM notifications "
     "WHERE verdict = 'received' AND ct < now() - make_interval(secs => $1::float8)",
     Uses::kReplayInterval},
    {{"unpaid_order_expires", "no order stays NW/WT longer than its expiry (plus the expire timer's grace)"},
     "SELECT id, or_st || ' past expiry by ' || (extract(epoch from now() - expi))::bigint || ' s' FROM "
     "orders "
     "WHERE or_st IN ('NW', 'WT') AND expi < now() - make_interval(secs => $1::float8)",
     Uses::kExpireGrace},
    {{"refunds_within_payment", "the refunds of a slip that are not FAIL add up to at most what it was paid"},
     "SELECT s.id, 'paid ' || s.amount || ', refunds ' || sum(r.amount) FROM pay_slips s "
     "JOIN refunds r ON r.slip_id = s.id AND r.st <> 'FAIL' GROUP BY s.id HAVING sum(r.amount) > s.amount"},
    {{"refunds_of_paid_slips", "only an OK slip is refunded"},
     "SELECT r.id, 'refund of slip ' || s.id || ' in ' || s.st FROM refunds r JOIN pay_slips s ON s.id = "
     "r.slip_id "
     "WHERE s.st <> 'OK'"},
    // sp_at and dn_at are written only with the state they stamp (order_ship, order_done, and the
    // settle of virtual goods); RF keeps whatever its order had reached.
    {{"fulfilment_times_match_state",
      "an order not shipped (NW, WT, OK, FA) has no sp_at or dn_at; SP has sp_at and no dn_at; DN has "
      "dn_at, and sp_at exactly when it is goods (tp A), except goods closed unshipped after their "
      "payment's chargeback (order done --charged-back), which have none"},
     "SELECT o.id, o.or_st || ' tp ' || o.tp || ', sp_at ' || CASE WHEN o.sp_at IS NULL THEN 'null' ELSE "
     "'set' END || ', dn_at ' || CASE WHEN o.dn_at IS NULL THEN 'null' ELSE 'set' END FROM orders o "
     "WHERE (o.or_st IN ('NW', 'WT', 'OK', 'FA') AND (o.sp_at IS NOT NULL OR o.dn_at IS NOT NULL)) "
     "OR (o.or_st = 'SP' AND (o.sp_at IS NULL OR o.dn_at IS NOT NULL OR o.tp <> 'A')) "
     "OR (o.or_st = 'DN' AND (o.dn_at IS NULL OR ((o.sp_at IS NOT NULL) <> (o.tp = 'A') "
     "AND NOT (o.tp = 'A' AND o.sp_at IS NULL AND " CHARGEBACK_OF("o") "))))"},
    {{"refunded_order_rf", "an order is RF exactly when the OK refunds of its paying slip cover it"},
     "SELECT o.id, o.or_st || ', refunded ' || coalesce(sum(r.amount), 0) || ' of ' || s.amount FROM orders "
     "o "
     "JOIN pay_slips s ON s.id = o.pay_id LEFT JOIN refunds r ON r.slip_id = s.id AND r.st = 'OK' "
     "WHERE o.or_st IN ('OK', 'SP', 'DN', 'RF') AND s.amount > 0 GROUP BY o.id, o.or_st, s.amount "
     "HAVING (o.or_st = 'RF') <> (coalesce(sum(r.amount), 0) >= s.amount)"},
    // pay/products and pay/buy skip such a product, so it leaves the shop without a word: one a
    // database written before product add kept them off sale may hold (review s28b-attack #4).
    {{"product_on_sale_in_site_currency",
      "a product on sale is priced in its site's currency (pay/products and pay/buy skip one that is not)"},
     "SELECT p.site_id || '/' || p.id, 'on sale in ' || p.currency || ', site sells in ' || s.currency "
     "FROM products p JOIN sites s ON s.id = p.site_id WHERE p.active AND p.currency <> s.currency"},
};

}  // namespace

std::vector<InvariantInfo> Invariants() {
    std::vector<InvariantInfo> out;
    for (const Check& c : kChecks) out.push_back(c.info);
    return out;
}

std::vector<Violation> Audit(db::Connection& c, const AuditLimits& limits) {
    std::vector<Violation> out;
    db::Tx tx(c);
    c.Simple("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    for (const Check& check : kChecks) {
        std::vector<db::Param> params;
        if (check.param == Uses::kReplayInterval) params.emplace_back(limits.replay_interval_s);
        if (check.param == Uses::kExpireGrace) params.emplace_back(limits.expire_grace_s);
        db::Result r = c.Query(check.sql, params);
        for (int i = 0; i < r.Rows(); ++i) out.push_back({check.info.name, r.Get(i, 0), r.Get(i, 1)});
    }
    tx.Commit();
    return out;
}

}  // namespace orderpay::store

// paysim's Alipay prepared statements and their typed wrappers (sql/paysim/002_alipay.sql).
#include "sim/alipay/store.hpp"

#include <array>

#include "sim/alipay/scan.hpp"
#include "sim/core/store.hpp"

namespace orderpay::sim::zfb_store {

namespace {

// The columns every trade statement returns, read back by ReadTrade. Epoch seconds are floored
// like time(), so a notify_time taken later never reads earlier than gmt_payment.
#define ZFB_TRADE_COLS                                                                                      \
    " seller_id, out_trade_no, app_id, method, total_fee, subject, notify_url, auth_code, scan, qr_code,"   \
    " trade_no, buyer_id, buyer_logon_id, state, refunded, queries, cancels, notify_seed, notify_count,"    \
    " floor(extract(epoch FROM ct))::bigint AS ct_epoch, (extract(epoch FROM ct) * 1000)::bigint AS ct_ms," \
    " floor(extract(epoch FROM paid_at))::bigint AS paid_epoch,"                                            \
    " floor(extract(epoch FROM closed_at))::bigint AS closed_epoch,"                                        \
    " (SELECT coalesce(sum(r.refund_fee), 0) FROM paysim.zfb_refunds r WHERE r.seller_id ="                 \
    " zfb_trades.seller_id AND r.out_trade_no = zfb_trades.out_trade_no) AS refund_total "

// A new Alipay-shaped trade_no: the Beijing date, "2200", 16 digits of a sequence (28 digits,
// unique by construction). COALESCE evaluates it only for rows that have none.
#define ZFB_NEW_TRADE_NO                                                      \
    "(to_char(now() AT TIME ZONE INTERVAL '+08:00', 'YYYYMMDD') || '2200' ||" \
    " lpad(nextval('paysim.txn_seq')::text, 16, '0'))"

#define ZFB_KEY "seller_id = $1 AND out_trade_no = $2"

#define ZFB_MERCHANT_COLS "mch_id, app_id, app_public_key, alipay_private_key"

const db::Statement kFindMerchant{"zfb_find_merchant",
                                  "SELECT " ZFB_MERCHANT_COLS
                                  " FROM paysim.merchants WHERE provider = 'zfb' AND mch_id = $1"};

const db::Statement kFindMerchantByApp{"zfb_find_merchant_by_app",
                                       "SELECT " ZFB_MERCHANT_COLS
                                       " FROM paysim.merchants WHERE provider = 'zfb' AND app_id = $1"};

const db::Statement kUpsertMerchant{
    "zfb_upsert_merchant",
    "INSERT INTO paysim.merchants (provider, mch_id, app_id, sign_type, app_public_key, alipay_private_key)"
    " VALUES ('zfb', $1, $2, 'RSA2', $3, $4)"
    " ON CONFLICT (provider, mch_id) DO UPDATE SET app_id = EXCLUDED.app_id, sign_type = 'RSA2',"
    " app_public_key = EXCLUDED.app_public_key, alipay_private_key = EXCLUDED.alipay_private_key, lm = "
    "now()"};

const db::Statement kFindTrade{"zfb_find_trade",
                               "SELECT" ZFB_TRADE_COLS "FROM paysim.zfb_trades WHERE " ZFB_KEY};

const db::Statement kFindByTradeNo{"zfb_find_trade_by_no",
                                   "SELECT" ZFB_TRADE_COLS
                                   "FROM paysim.zfb_trades WHERE seller_id = $1 AND trade_no = $2"};

// $2 = '' matches every seller: the control API may name none.
const db::Statement kFindByOutTradeNo{"zfb_find_trades_by_out_trade_no",
                                      "SELECT" ZFB_TRADE_COLS
                                      "FROM paysim.zfb_trades WHERE out_trade_no = $1"
                                      " AND ($2::text = '' OR seller_id = $2) ORDER BY seller_id LIMIT 10"};

const db::Statement kInsertTrade{
    "zfb_insert_trade",
    "INSERT INTO paysim.zfb_trades (seller_id, out_trade_no, app_id, method, total_fee, subject, notify_url,"
    " auth_code, scan, qr_code, state, buyer_id, buyer_logon_id, trade_no, paid_at, closed_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
    " CASE WHEN $4 = 'pay' THEN " ZFB_NEW_TRADE_NO
    " END,"
    " CASE WHEN $11 = 'TRADE_SUCCESS' THEN now() END,"
    " CASE WHEN $11 = 'TRADE_CLOSED' THEN now() END)"
    " ON CONFLICT (seller_id, out_trade_no) DO NOTHING RETURNING" ZFB_TRADE_COLS};

// Every SET expression reads the row as it was, so the promotion test is spelled out per column.
// This is ZfbStateAfterQuery() (sim/alipay/scan.cpp) in SQL: "slow" is ZfbScanFor("281...").name,
// $3 is kZfbSlowPendingQueries.
#define ZFB_PROMOTE "(state = 'WAIT_BUYER_PAY' AND scan = 'slow' AND queries + 1 > $3)"
const db::Statement kCountQuery{"zfb_count_query",
                                "UPDATE paysim.zfb_trades SET queries = queries + 1, lm = now(),"
                                " state = CASE WHEN " ZFB_PROMOTE
                                " THEN 'TRADE_SUCCESS' ELSE state END,"
                                " trade_no = CASE WHEN " ZFB_PROMOTE
                                " THEN COALESCE(trade_no, " ZFB_NEW_TRADE_NO
                                ") ELSE trade_no END,"
                                " paid_at = CASE WHEN " ZFB_PROMOTE
                                " THEN now() ELSE paid_at END"
                                " WHERE " ZFB_KEY " RETURNING" ZFB_TRADE_COLS};

const db::Statement kCountCancel{"zfb_count_cancel",
                                 "UPDATE paysim.zfb_trades SET cancels = cancels + 1, lm = now()"
                                 " WHERE " ZFB_KEY " RETURNING" ZFB_TRADE_COLS};

const db::Statement kTransition{
    "zfb_transition",
    "UPDATE paysim.zfb_trades SET state = $3, lm = now(), refunded = refunded OR $5,"
    " closed_at = CASE WHEN $3 = 'TRADE_CLOSED' THEN now() ELSE closed_at END"
    " WHERE " ZFB_KEY " AND state = ANY ($4::text[]) RETURNING" ZFB_TRADE_COLS};

const db::Statement kMarkPaid{
    "zfb_mark_paid",
    "UPDATE paysim.zfb_trades SET state = $4, paid_at = now(), lm = now(),"
    " trade_no = COALESCE(trade_no, " ZFB_NEW_TRADE_NO
    "),"
    " buyer_id = CASE WHEN buyer_id = '' THEN $5 ELSE buyer_id END,"
    " buyer_logon_id = CASE WHEN buyer_logon_id = '' THEN $6 ELSE buyer_logon_id END"
    " WHERE " ZFB_KEY " AND state = $3 RETURNING" ZFB_TRADE_COLS};

const db::Statement kPrepareNotify{
    "zfb_prepare_notify",
    "UPDATE paysim.zfb_trades SET notify_seed = COALESCE(notify_seed, $3),"
    " notify_count = notify_count + $4, lm = now(),"
    " trade_no = COALESCE(trade_no, " ZFB_NEW_TRADE_NO
    "),"
    " buyer_id = CASE WHEN buyer_id = '' THEN $5 ELSE buyer_id END,"
    " buyer_logon_id = CASE WHEN buyer_logon_id = '' THEN $6 ELSE buyer_logon_id END"
    " WHERE " ZFB_KEY " RETURNING" ZFB_TRADE_COLS};

// Refunds (sql/paysim/004_zfb_refunds.sql): the check and the insert under the trade's row lock.
const db::Statement kRefund{
    "zfb_refund", "SELECT outcome, refunded_total FROM paysim.zfb_refund($1, $2, $3, $4::bigint, $5)"};
const db::Statement kFindRefund{"zfb_find_refund",
                                "SELECT refund_fee, floor(extract(epoch FROM ct))::bigint AS ct_epoch"
                                " FROM paysim.zfb_refunds WHERE " ZFB_KEY " AND out_request_no = $3"};

#undef ZFB_PROMOTE
#undef ZFB_MERCHANT_COLS
#undef ZFB_KEY
#undef ZFB_NEW_TRADE_NO
#undef ZFB_TRADE_COLS

const std::array kStatements = {kFindMerchant,  kFindMerchantByApp, kUpsertMerchant, kFindTrade,
                                kFindByTradeNo, kFindByOutTradeNo,  kInsertTrade,    kCountQuery,
                                kCountCancel,   kTransition,        kMarkPaid,       kPrepareNotify,
                                kRefund,        kFindRefund};

Trade ReadTrade(const db::Result& r, int row) {
    Trade t;
    t.key = {r.Get(row, "seller_id"), r.Get(row, "out_trade_no")};
    t.app_id = r.Get(row, "app_id");
    t.method = r.Get(row, "method");
    t.total_fee = r.GetInt(row, "total_fee");
    t.subject = r.Get(row, "subject");
    t.notify_url = r.Get(row, "notify_url");
    t.auth_code = r.Get(row, "auth_code");
    t.scan = r.Get(row, "scan");
    t.qr_code = r.GetOpt(row, "qr_code");
    t.trade_no = r.GetOpt(row, "trade_no");
    t.buyer_id = r.Get(row, "buyer_id");
    t.buyer_logon_id = r.Get(row, "buyer_logon_id");
    t.state = r.Get(row, "state");
    t.refunded = r.GetBool(row, r.Col("refunded"));
    t.queries = static_cast<int>(r.GetInt(row, "queries"));
    t.cancels = static_cast<int>(r.GetInt(row, "cancels"));
    t.notify_seed = r.GetOpt(row, "notify_seed");
    t.notify_count = static_cast<int>(r.GetInt(row, "notify_count"));
    t.ct = r.GetInt(row, "ct_epoch");
    t.ct_ms = r.GetInt(row, "ct_ms");
    t.paid_at = store::OptInt(r, row, "paid_epoch");
    t.closed_at = store::OptInt(r, row, "closed_epoch");
    t.refund_total = r.GetInt(row, "refund_total");
    return t;
}

std::optional<Trade> First(const db::Result& r) {
    return store::First(r, &ReadTrade);
}

std::optional<Merchant> ReadMerchant(const db::Result& r) {
    if (r.Rows() == 0) return std::nullopt;
    return Merchant{r.Get(0, "mch_id"), r.Get(0, "app_id"), r.Get(0, "app_public_key"),
                    r.Get(0, "alipay_private_key")};
}

}  // namespace

std::span<const db::Statement> Statements() {
    return kStatements;
}

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view seller_id) {
    return ReadMerchant(c.Exec(kFindMerchant, {seller_id}));
}

std::optional<Merchant> FindMerchantByApp(db::Connection& c, std::string_view app_id) {
    return ReadMerchant(c.Exec(kFindMerchantByApp, {app_id}));
}

void UpsertMerchant(db::Connection& c, const Merchant& m) {
    c.Exec(kUpsertMerchant, {m.seller_id, m.app_id, m.app_public_key, m.alipay_private_key});
}

std::optional<Trade> FindTrade(db::Connection& c, const TradeKey& k) {
    return First(c.Exec(kFindTrade, {k.seller_id, k.out_trade_no}));
}

std::optional<Trade> FindTradeByNo(db::Connection& c, std::string_view seller_id, std::string_view trade_no) {
    return First(c.Exec(kFindByTradeNo, {seller_id, trade_no}));
}

std::vector<Trade> FindTradesByOutTradeNo(db::Connection& c, std::string_view out_trade_no,
                                          std::string_view seller_id) {
    return store::All(c.Exec(kFindByOutTradeNo, {out_trade_no, seller_id}), &ReadTrade);
}

std::optional<Trade> InsertTrade(db::Connection& c, const Trade& t) {
    return First(c.Exec(
        kInsertTrade, {t.key.seller_id, t.key.out_trade_no, t.app_id, t.method, t.total_fee, t.subject,
                       t.notify_url, t.auth_code, t.scan, t.qr_code, t.state, t.buyer_id, t.buyer_logon_id}));
}

std::optional<Trade> CountQuery(db::Connection& c, const TradeKey& k) {
    return First(c.Exec(kCountQuery, {k.seller_id, k.out_trade_no, kZfbSlowPendingQueries}));
}

std::optional<Trade> CountCancel(db::Connection& c, const TradeKey& k) {
    return First(c.Exec(kCountCancel, {k.seller_id, k.out_trade_no}));
}

std::optional<Trade> Transition(db::Connection& c, const TradeKey& k,
                                std::initializer_list<std::string_view> from, std::string_view to,
                                bool refund) {
    return First(c.Exec(kTransition, {k.seller_id, k.out_trade_no, to, store::TextArray(from), refund}));
}

std::optional<Trade> MarkPaid(db::Connection& c, const TradeKey& k, std::string_view from,
                              std::string_view to, const Buyer& buyer) {
    return First(c.Exec(kMarkPaid, {k.seller_id, k.out_trade_no, from, to, buyer.id, buyer.logon_id}));
}

std::optional<Trade> PrepareNotify(db::Connection& c, const TradeKey& k, std::string_view seed, int copies,
                                   const Buyer& buyer) {
    return First(
        c.Exec(kPrepareNotify, {k.seller_id, k.out_trade_no, seed, copies, buyer.id, buyer.logon_id}));
}

RefundAnswer Refund(db::Connection& c, const TradeKey& k, std::string_view out_request_no, std::int64_t fee,
                    std::string_view reason) {
    db::Result r = c.Exec(kRefund, {k.seller_id, k.out_trade_no, out_request_no, fee, reason});
    RefundAnswer a;
    a.outcome = r.Get(0, "outcome");
    a.refunded_total = r.IsNull(0, r.Col("refunded_total")) ? 0 : r.GetInt(0, "refunded_total");
    return a;
}

std::optional<RefundRecord> FindRefund(db::Connection& c, const TradeKey& k,
                                       std::string_view out_request_no) {
    db::Result r = c.Exec(kFindRefund, {k.seller_id, k.out_trade_no, out_request_no});
    if (r.Rows() == 0) return std::nullopt;
    return RefundRecord{r.GetInt(0, "refund_fee"), r.GetInt(0, "ct_epoch")};
}

}  // namespace orderpay::sim::zfb_store

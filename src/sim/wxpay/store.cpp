// paysim's WeChat prepared statements and their typed wrappers (sql/paysim/001_init.sql).
#include "sim/wxpay/store.hpp"

#include <array>

#include "sim/core/store.hpp"
#include "sim/wxpay/scan.hpp"

namespace orderpay::sim::wx_store {

namespace {

// The columns every trade statement returns, read back by ReadTrade.
#define PAYSIM_TRADE_COLS                                                                        \
    " provider, mch_id, out_trade_no, app_id, trade_type, total_fee, fee_type, sign_type, body," \
    " attach, notify_url, product_id, openid, auth_code, scan, prepay_id, code_url,"             \
    " transaction_id, state, queries, notify_nonce, notify_count,"                               \
    " (extract(epoch FROM ct) * 1000)::bigint AS ct_ms,"                                         \
    " extract(epoch FROM paid_at)::bigint AS paid_epoch "

// A new WeChat-shaped transaction id: "4200", the Beijing date, 16 digits of a sequence
// (28 digits, unique by construction). COALESCE evaluates it only for rows that have none.
#define PAYSIM_NEW_TXN                                                        \
    "('4200' || to_char(now() AT TIME ZONE INTERVAL '+08:00', 'YYYYMMDD') ||" \
    " lpad(nextval('paysim.txn_seq')::text, 16, '0'))"

#define PAYSIM_KEY "provider = $1 AND mch_id = $2 AND out_trade_no = $3"

const db::Statement kFindMerchant{
    "sim_find_merchant",
    "SELECT provider, mch_id, app_id, sign_type, api_key, options::text AS options FROM paysim.merchants"
    " WHERE provider = $1 AND mch_id = $2"};

const db::Statement kUpsertMerchant{
    "sim_upsert_merchant",
    "INSERT INTO paysim.merchants (provider, mch_id, app_id, sign_type, api_key, options)"
    " VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
    " ON CONFLICT (provider, mch_id) DO UPDATE SET app_id = EXCLUDED.app_id,"
    " sign_type = EXCLUDED.sign_type, api_key = EXCLUDED.api_key, options = EXCLUDED.options, lm = now()"};

const db::Statement kFindTrade{"sim_find_trade",
                               "SELECT" PAYSIM_TRADE_COLS "FROM paysim.trades WHERE " PAYSIM_KEY};

const db::Statement kFindByTxn{
    "sim_find_trade_by_txn",
    "SELECT" PAYSIM_TRADE_COLS
    "FROM paysim.trades WHERE provider = $1 AND mch_id = $2 AND transaction_id = $3"};

// $3 = '' matches every merchant: the control API may name none.
const db::Statement kFindByOutTradeNo{"sim_find_trades_by_out_trade_no",
                                      "SELECT" PAYSIM_TRADE_COLS
                                      "FROM paysim.trades WHERE provider = $1 AND out_trade_no = $2"
                                      " AND ($3::text = '' OR mch_id = $3) ORDER BY mch_id LIMIT 10"};

const db::Statement kInsertTrade{
    "sim_insert_trade",
    "INSERT INTO paysim.trades (provider, mch_id, out_trade_no, app_id, trade_type, total_fee, fee_type,"
    " sign_type, body, attach, notify_url, product_id, openid, auth_code, scan, prepay_id, code_url, state,"
    " transaction_id, paid_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
    " CASE WHEN $18 = 'SUCCESS' THEN " PAYSIM_NEW_TXN
    " END,"
    " CASE WHEN $18 = 'SUCCESS' THEN now() END)"
    " ON CONFLICT (provider, mch_id, out_trade_no) DO NOTHING RETURNING" PAYSIM_TRADE_COLS};

// Every SET expression reads the row as it was, so the promotion test is spelled out per column.
// The row lock makes concurrent queries count one after the other. This is StateAfterQuery()
// (sim/wxpay/scan.cpp) in SQL: "slow" is ScanFor("131...").name, $4 is kSlowPendingQueries.
#define PAYSIM_PROMOTE "(state = 'USERPAYING' AND scan = 'slow' AND queries + 1 > $4)"
const db::Statement kCountQuery{
    "sim_count_query",
    "UPDATE paysim.trades SET queries = queries + 1, lm = now(),"
    " state = CASE WHEN " PAYSIM_PROMOTE
    " THEN 'SUCCESS' ELSE state END,"
    " transaction_id = CASE WHEN " PAYSIM_PROMOTE " THEN COALESCE(transaction_id, " PAYSIM_NEW_TXN
    ") ELSE transaction_id END,"
    " paid_at = CASE WHEN " PAYSIM_PROMOTE
    " THEN now() ELSE paid_at END"
    " WHERE " PAYSIM_KEY " RETURNING" PAYSIM_TRADE_COLS
    ", (state = 'SUCCESS' AND (EXISTS (SELECT 1 FROM paysim.wx_refunds r"
    " WHERE r.mch_id = trades.mch_id AND r.out_trade_no = trades.out_trade_no"
    " AND r.state IN ('PROCESSING', 'SUCCESS', 'CHANGE'))"
    " OR EXISTS (SELECT 1 FROM paysim.wx3_refunds r WHERE r.mch_id = trades.mch_id"
    " AND r.out_trade_no = trades.out_trade_no"
    " AND r.status IN ('PROCESSING', 'SUCCESS', 'ABNORMAL')))) AS refunded"};

const db::Statement kTransition{"sim_transition",
                                "UPDATE paysim.trades SET state = $4, lm = now()"
                                " WHERE " PAYSIM_KEY
                                " AND state = ANY ($5::text[]) RETURNING" PAYSIM_TRADE_COLS};

const db::Statement kMarkPaid{"sim_mark_paid",
                              "UPDATE paysim.trades SET state = 'SUCCESS', paid_at = now(), lm = now(),"
                              " transaction_id = COALESCE(transaction_id, " PAYSIM_NEW_TXN
                              "),"
                              " openid = CASE WHEN openid = '' THEN $5 ELSE openid END"
                              " WHERE " PAYSIM_KEY " AND state = $4 RETURNING" PAYSIM_TRADE_COLS};

const db::Statement kPrepareNotify{"sim_prepare_notify",
                                   "UPDATE paysim.trades SET notify_nonce = COALESCE(notify_nonce, $4),"
                                   " notify_count = notify_count + $5, lm = now()"
                                   " WHERE " PAYSIM_KEY " AND state = 'SUCCESS' RETURNING" PAYSIM_TRADE_COLS};

#undef PAYSIM_PROMOTE
#undef PAYSIM_KEY
#undef PAYSIM_NEW_TXN
#undef PAYSIM_TRADE_COLS

const std::array kStatements = {kFindMerchant, kUpsertMerchant, kFindTrade,  kFindByTxn, kFindByOutTradeNo,
                                kInsertTrade,  kCountQuery,     kTransition, kMarkPaid,  kPrepareNotify};

Trade ReadTrade(const db::Result& r, int row) {
    Trade t;
    t.key = {r.Get(row, "provider"), r.Get(row, "mch_id"), r.Get(row, "out_trade_no")};
    t.app_id = r.Get(row, "app_id");
    t.trade_type = r.Get(row, "trade_type");
    t.total_fee = r.GetInt(row, "total_fee");
    t.fee_type = r.Get(row, "fee_type");
    t.sign_type = r.Get(row, "sign_type");
    t.body = r.Get(row, "body");
    t.attach = r.Get(row, "attach");
    t.notify_url = r.Get(row, "notify_url");
    t.product_id = r.Get(row, "product_id");
    t.openid = r.Get(row, "openid");
    t.auth_code = r.Get(row, "auth_code");
    t.scan = r.Get(row, "scan");
    t.prepay_id = r.GetOpt(row, "prepay_id");
    t.code_url = r.GetOpt(row, "code_url");
    t.transaction_id = r.GetOpt(row, "transaction_id");
    t.state = r.Get(row, "state");
    t.queries = static_cast<int>(r.GetInt(row, "queries"));
    t.notify_nonce = r.GetOpt(row, "notify_nonce");
    t.notify_count = static_cast<int>(r.GetInt(row, "notify_count"));
    t.ct_ms = r.GetInt(row, "ct_ms");
    t.paid_at = store::OptInt(r, row, "paid_epoch");
    return t;
}

std::optional<Trade> First(const db::Result& r) {
    return store::First(r, &ReadTrade);
}

}  // namespace

std::span<const db::Statement> Statements() {
    return kStatements;
}

std::optional<Merchant> FindMerchant(db::Connection& c, std::string_view provider, std::string_view mch_id) {
    db::Result r = c.Exec(kFindMerchant, {provider, mch_id});
    if (r.Rows() == 0) return std::nullopt;
    return Merchant{r.Get(0, "provider"),  r.Get(0, "mch_id"),  r.Get(0, "app_id"),
                    r.Get(0, "sign_type"), r.Get(0, "api_key"), r.Get(0, "options")};
}

void UpsertMerchant(db::Connection& c, const Merchant& m) {
    c.Exec(kUpsertMerchant, {m.provider, m.mch_id, m.app_id, m.sign_type, m.api_key, m.options});
}

std::optional<Trade> FindTrade(db::Connection& c, const TradeKey& k) {
    return First(c.Exec(kFindTrade, {k.provider, k.mch_id, k.out_trade_no}));
}

std::optional<Trade> FindTradeByTransaction(db::Connection& c, std::string_view provider,
                                            std::string_view mch_id, std::string_view transaction_id) {
    return First(c.Exec(kFindByTxn, {provider, mch_id, transaction_id}));
}

std::vector<Trade> FindTradesByOutTradeNo(db::Connection& c, std::string_view provider,
                                          std::string_view out_trade_no, std::string_view mch_id) {
    return store::All(c.Exec(kFindByOutTradeNo, {provider, out_trade_no, mch_id}), &ReadTrade);
}

std::optional<Trade> InsertTrade(db::Connection& c, const Trade& t) {
    return First(c.Exec(
        kInsertTrade, {t.key.provider, t.key.mch_id, t.key.out_trade_no, t.app_id, t.trade_type, t.total_fee,
                       t.fee_type, t.sign_type, t.body, t.attach, t.notify_url, t.product_id, t.openid,
                       t.auth_code, t.scan, t.prepay_id, t.code_url, t.state}));
}

std::optional<Trade> CountQuery(db::Connection& c, const TradeKey& k) {
    const db::Result r = c.Exec(kCountQuery, {k.provider, k.mch_id, k.out_trade_no, kSlowPendingQueries});
    std::optional<Trade> t = First(r);
    // As WeChat answers a paid trade once any refund of it took money: REFUND (转入退款), still
    // with its transaction_id and total. The row stays SUCCESS: it can still be refunded further.
    if (t && r.Get(0, "refunded") == "t") t->state = "REFUND";
    return t;
}

std::optional<Trade> Transition(db::Connection& c, const TradeKey& k,
                                std::initializer_list<std::string_view> from, std::string_view to) {
    return First(c.Exec(kTransition, {k.provider, k.mch_id, k.out_trade_no, to, store::TextArray(from)}));
}

std::optional<Trade> MarkPaid(db::Connection& c, const TradeKey& k, std::string_view from,
                              std::string_view payer_openid) {
    return First(c.Exec(kMarkPaid, {k.provider, k.mch_id, k.out_trade_no, from, payer_openid}));
}

std::optional<Trade> PrepareNotify(db::Connection& c, const TradeKey& k, std::string_view nonce, int copies) {
    return First(c.Exec(kPrepareNotify, {k.provider, k.mch_id, k.out_trade_no, nonce, copies}));
}

}  // namespace orderpay::sim::wx_store

// paysim's WeChat Pay v3 refund statements and their typed wrappers.
#include "sim/wxpay3/store.hpp"

#include <array>

#include "sim/core/store.hpp"

namespace orderpay::sim::wx3_store {

namespace {

#define WX3_REFUND_COLS                                                                                 \
    " refund_id, mch_id, out_refund_no, out_trade_no, transaction_id, refund, total, currency, reason," \
    " notify_url, status, calls, queries, notify_count, extract(epoch from ct)::bigint AS ct_s,"        \
    " extract(epoch from success_at)::bigint AS success_s "

// The paid trade, locked: concurrent refunds of one trade are judged one after the other.
const db::Statement kLockTrade{"wx3_lock_trade",
                               "SELECT total_fee FROM paysim.trades WHERE provider = 'wx' AND mch_id = $1"
                               " AND out_trade_no = $2 AND state = 'SUCCESS' FOR UPDATE"};
// After kLockTrade in the same transaction, so the sum sees every refund committed before.
const db::Statement kInsertRefund{
    "wx3_insert_refund",
    "INSERT INTO paysim.wx3_refunds (refund_id, mch_id, out_refund_no, out_trade_no, transaction_id, refund,"
    " total, currency, reason, notify_url, status, success_at)"
    " SELECT $1, $2::text, $3, $4::text, $5, $6::bigint, $7::bigint, $8, $9, $10, $11::text,"
    " CASE WHEN $11::text = 'SUCCESS' THEN now() END"
    " WHERE (SELECT coalesce(sum(refund), 0) FROM paysim.wx3_refunds WHERE mch_id = $2::text"
    "        AND out_trade_no = $4::text AND status IN ('PROCESSING', 'SUCCESS', 'ABNORMAL')) + $6::bigint "
    "<= $7::bigint"
    " ON CONFLICT (mch_id, out_refund_no) DO NOTHING RETURNING" WX3_REFUND_COLS};
const db::Statement kRefundCalled{"wx3_refund_called",
                                  "UPDATE paysim.wx3_refunds SET calls = calls + 1 WHERE mch_id = $1"
                                  " AND out_refund_no = $2 RETURNING" WX3_REFUND_COLS};
const db::Statement kRefundQueried{"wx3_refund_queried",
                                   "UPDATE paysim.wx3_refunds SET queries = queries + 1 WHERE mch_id = $1"
                                   " AND out_refund_no = $2 RETURNING" WX3_REFUND_COLS};
const db::Statement kByOutRefundNo{"wx3_refunds_by_no",
                                   "SELECT" WX3_REFUND_COLS
                                   "FROM paysim.wx3_refunds WHERE out_refund_no = $1 ORDER BY ct LIMIT 10"};
const db::Statement kOfTrade{
    "wx3_refunds_of_trade",
    "SELECT" WX3_REFUND_COLS
    "FROM paysim.wx3_refunds WHERE mch_id = $1 AND out_trade_no = $2 ORDER BY ct LIMIT 100"};
const db::Statement kFinish{
    "wx3_finish_refund",
    "UPDATE paysim.wx3_refunds SET status = $2::text, lm = now(),"
    " success_at = CASE WHEN $2::text = 'SUCCESS' THEN now() END"
    " WHERE refund_id = $1 AND status IN ('PROCESSING', 'ABNORMAL') RETURNING" WX3_REFUND_COLS};
const db::Statement kCountNotify{
    "wx3_refund_notified",
    "UPDATE paysim.wx3_refunds SET notify_count = notify_count + $2 WHERE refund_id = $1"};

Refund Read(const db::Result& r, int row) {
    Refund f;
    f.refund_id = r.Get(row, "refund_id");
    f.mch_id = r.Get(row, "mch_id");
    f.out_refund_no = r.Get(row, "out_refund_no");
    f.out_trade_no = r.Get(row, "out_trade_no");
    f.transaction_id = r.Get(row, "transaction_id");
    f.refund = r.GetInt(row, "refund");
    f.total = r.GetInt(row, "total");
    f.currency = r.Get(row, "currency");
    f.reason = r.Get(row, "reason");
    f.notify_url = r.Get(row, "notify_url");
    f.status = r.Get(row, "status");
    f.calls = static_cast<int>(r.GetInt(row, "calls"));
    f.queries = static_cast<int>(r.GetInt(row, "queries"));
    f.notify_count = static_cast<int>(r.GetInt(row, "notify_count"));
    f.ct_s = r.GetInt(row, "ct_s");
    f.success_at = store::OptInt(r, row, "success_s");
    return f;
}

}  // namespace

std::span<const db::Statement> Statements() {
    static const std::array kAll = {kLockTrade,     kInsertRefund, kRefundCalled, kRefundQueried,
                                    kByOutRefundNo, kOfTrade,      kFinish,       kCountNotify};
    return kAll;
}

Made InsertRefund(db::Connection& c, const Refund& r, Refund& out) {
    return store::RecordRefund<Refund>(
        c, out,
        [&]() -> std::optional<std::int64_t> {
            db::Result locked = c.Exec(kLockTrade, {r.mch_id, r.out_trade_no});
            if (locked.Rows() == 0) return std::nullopt;
            return locked.GetInt(0, "total_fee");
        },
        [&](std::int64_t total) {
            return store::First(c.Exec(kInsertRefund, {r.refund_id, r.mch_id, r.out_refund_no, r.out_trade_no,
                                                       r.transaction_id, r.refund, total, r.currency,
                                                       r.reason, r.notify_url, r.status}),
                                &Read);
        },
        [&] {
            return store::First(c.Exec(kRefundCalled, {r.mch_id, r.out_refund_no}), &Read);
        });
}

std::optional<Refund> QueryRefund(db::Connection& c, std::string_view mch_id,
                                  std::string_view out_refund_no) {
    return store::First(c.Exec(kRefundQueried, {mch_id, out_refund_no}), &Read);
}

std::vector<Refund> RefundsByOutRefundNo(db::Connection& c, std::string_view out_refund_no) {
    return store::All(c.Exec(kByOutRefundNo, {out_refund_no}), &Read);
}

std::vector<Refund> RefundsOfTrade(db::Connection& c, std::string_view mch_id,
                                   std::string_view out_trade_no) {
    return store::All(c.Exec(kOfTrade, {mch_id, out_trade_no}), &Read);
}

std::optional<Refund> FinishRefund(db::Connection& c, std::string_view refund_id, std::string_view status) {
    return store::First(c.Exec(kFinish, {refund_id, status}), &Read);
}

void CountNotify(db::Connection& c, std::string_view refund_id, int n) {
    c.Exec(kCountNotify, {refund_id, n});
}

}  // namespace orderpay::sim::wx3_store

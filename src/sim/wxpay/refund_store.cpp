// paysim's WeChat v2 refund statements and their typed wrappers (sql/paysim/005_wx_refunds.sql).
#include "sim/wxpay/refund_store.hpp"

#include <array>

#include "sim/core/store.hpp"

namespace orderpay::sim::wx_refund_store {

namespace {

#define PAYSIM_REFUND_COLS                                                                             \
    " mch_id, out_refund_no, out_trade_no, refund_id, total_fee, refund_fee, refund_desc, notify_url," \
    " state, notify_nonce, notify_count, extract(epoch FROM success_at)::bigint AS success_epoch "

// The trade's row lock serialises refunds of one trade; the sum is read by the next statement,
// whose snapshot (READ COMMITTED) sees every refund committed before the lock was granted.
const db::Statement kLockTrade{
    "sim_wxr_lock_trade",
    "SELECT total_fee, state, refund_mode, COALESCE(transaction_id, '') AS txn"
    " FROM paysim.trades WHERE provider = 'wx' AND mch_id = $1 AND out_trade_no = $2"
    " FOR UPDATE"};

// Inserts unless the live refunds (not closed; CHANGE is money WeChat holds) plus this one exceed
// $4 (total_fee).
// $9: the initial state.
const db::Statement kInsert{
    "sim_wxr_insert",
    "INSERT INTO paysim.wx_refunds (mch_id, out_refund_no, out_trade_no, refund_id, total_fee, refund_fee,"
    " refund_desc, notify_url, notify_nonce, state, success_at)"
    " SELECT $1, $2, $3, '50' || lpad(nextval('paysim.wx_refund_seq')::text, 28, '0'), $4::bigint, "
    "$5::bigint,"
    " $6, $7, $8, $9::text, CASE WHEN $9::text = 'SUCCESS' THEN now() END"
    " WHERE (SELECT COALESCE(sum(refund_fee), 0)::bigint FROM paysim.wx_refunds"
    "        WHERE mch_id = $1 AND out_trade_no = $3 AND state IN ('PROCESSING', 'SUCCESS', 'CHANGE')) + "
    "$5::bigint"
    "       <= $4::bigint"
    " ON CONFLICT (mch_id, out_refund_no) DO NOTHING RETURNING" PAYSIM_REFUND_COLS};

const db::Statement kFind{"sim_wxr_find", "SELECT" PAYSIM_REFUND_COLS
                                          "FROM paysim.wx_refunds WHERE mch_id = $1 AND out_refund_no = $2"};

const db::Statement kFindById{"sim_wxr_find_by_id",
                              "SELECT" PAYSIM_REFUND_COLS
                              "FROM paysim.wx_refunds WHERE mch_id = $1 AND refund_id = $2"};

const db::Statement kOfTrade{
    "sim_wxr_of_trade", "SELECT" PAYSIM_REFUND_COLS
                        "FROM paysim.wx_refunds WHERE ($1::text = '' OR mch_id = $1) AND out_trade_no = $2"
                        " ORDER BY ct, out_refund_no LIMIT 50"};

const db::Statement kFinish{
    "sim_wxr_finish",
    "UPDATE paysim.wx_refunds SET state = $3::text, notify_count = notify_count + $4::integer,"
    " success_at = CASE WHEN $3::text = 'SUCCESS' THEN COALESCE(success_at, now()) END"
    " WHERE mch_id = $1 AND out_refund_no = $2 AND state IN ('PROCESSING', 'CHANGE', $3::text)"
    " RETURNING" PAYSIM_REFUND_COLS};

const db::Statement kSetMode{"sim_wxr_set_mode",
                             "UPDATE paysim.trades SET refund_mode = $3, lm = now()"
                             " WHERE provider = 'wx' AND mch_id = $1 AND out_trade_no = $2 RETURNING 1"};

#undef PAYSIM_REFUND_COLS

const std::array kStatements = {kLockTrade, kInsert, kFind, kFindById, kOfTrade, kFinish, kSetMode};

Refund ReadRefund(const db::Result& r, int row) {
    Refund x;
    x.mch_id = r.Get(row, "mch_id");
    x.out_refund_no = r.Get(row, "out_refund_no");
    x.out_trade_no = r.Get(row, "out_trade_no");
    x.refund_id = r.Get(row, "refund_id");
    x.total_fee = r.GetInt(row, "total_fee");
    x.refund_fee = r.GetInt(row, "refund_fee");
    x.refund_desc = r.Get(row, "refund_desc");
    x.notify_url = r.Get(row, "notify_url");
    x.state = r.Get(row, "state");
    x.notify_nonce = r.Get(row, "notify_nonce");
    x.notify_count = static_cast<int>(r.GetInt(row, "notify_count"));
    x.success_at = store::OptInt(r, row, "success_epoch");
    return x;
}

}  // namespace

std::span<const db::Statement> Statements() {
    return kStatements;
}

Asked AskRefund(db::Connection& c, const Refund& want) {
    Asked a;
    db::Tx tx(c);
    db::Result t = c.Exec(kLockTrade, {want.mch_id, want.out_trade_no});
    if (t.Rows() == 0) return a;
    a.mode = t.Get(0, "refund_mode");
    a.transaction_id = t.Get(0, "txn");
    // A repeat of a refund id answers as the first time did, whatever it asks now.
    if ((a.refund = store::First(c.Exec(kFind, {want.mch_id, want.out_refund_no}), &ReadRefund))) {
        a.outcome = Asked::Outcome::kExisting;
        return a;
    }
    using O = Asked::Outcome;
    if (t.Get(0, "state") != "SUCCESS") {
        a.outcome = O::kNotPaid;
    } else if (t.GetInt(0, "total_fee") != want.total_fee) {
        a.outcome = O::kTotalFee;
    } else if (a.mode == "fail") {
        a.outcome = O::kRefusedKnob;
    } else {
        const std::string state = a.mode == "timeout" ? "SUCCESS" : "PROCESSING";
        a.refund = store::First(
            c.Exec(kInsert, {want.mch_id, want.out_refund_no, want.out_trade_no, want.total_fee,
                             want.refund_fee, want.refund_desc, want.notify_url, want.notify_nonce, state}),
            &ReadRefund);
        a.outcome = a.refund ? O::kCreated : O::kTooMuch;
    }
    tx.Commit();
    return a;
}

std::optional<Refund> Find(db::Connection& c, std::string_view mch_id, std::string_view out_refund_no) {
    return store::First(c.Exec(kFind, {mch_id, out_refund_no}), &ReadRefund);
}

std::optional<Refund> FindById(db::Connection& c, std::string_view mch_id, std::string_view refund_id) {
    return store::First(c.Exec(kFindById, {mch_id, refund_id}), &ReadRefund);
}

std::vector<Refund> OfTrade(db::Connection& c, std::string_view mch_id, std::string_view out_trade_no) {
    return store::All(c.Exec(kOfTrade, {mch_id, out_trade_no}), &ReadRefund);
}

std::optional<Refund> Finish(db::Connection& c, std::string_view mch_id, std::string_view out_refund_no,
                             std::string_view to, int copies) {
    return store::First(c.Exec(kFinish, {mch_id, out_refund_no, to, copies}), &ReadRefund);
}

bool SetMode(db::Connection& c, std::string_view mch_id, std::string_view out_trade_no,
             std::string_view mode) {
    return c.Exec(kSetMode, {mch_id, out_trade_no, mode}).Rows() > 0;
}

}  // namespace orderpay::sim::wx_refund_store

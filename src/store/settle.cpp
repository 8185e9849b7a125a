// Settlement and expiry transactions. The slip row lock taken first serialises concurrent
// duplicates: the second one sees st = 'OK' and changes nothing.
#include "orderpay/store/settle.hpp"

#include <algorithm>

#include "orderpay/core/log.hpp"
#include "orderpay/store/retry.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::store {

const char* ToString(SettleOutcome o) {
    switch (o) {
        case SettleOutcome::kSettled:
            return "settled";
        case SettleOutcome::kDuplicate:
            return "duplicate";
        case SettleOutcome::kLateSettled:
            return "late_settled";
        case SettleOutcome::kRefundFlagged:
            return "refund_flagged";
        case SettleOutcome::kNoSlip:
            return "no_slip";
        case SettleOutcome::kMismatch:
            return "mismatch";
        case SettleOutcome::kTxnReused:
            return "txn_id_reused";
    }
    return "?";
}

namespace {

// The order's lines in product-id order: every statement that locks product rows takes them
// in this one order, so two transactions can never wait on each other.
std::vector<std::pair<std::string, std::int64_t>> LinesByProduct(db::Connection& c,
                                                                 const std::string& order_id) {
    db::Result items = c.Exec(kItemsGet, {order_id});
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (int i = 0; i < items.Rows(); ++i)
        out.emplace_back(items.Get(i, "product_id"), items.GetInt(i, "amount"));
    std::sort(out.begin(), out.end());
    return out;
}

// Takes the stock of every line again for an expired order; false if any product ran out.
bool RetakeStock(db::Connection& c, const std::string& site, const std::string& order_id) {
    for (const auto& [product, amount] : LinesByProduct(c, order_id)) {
        db::Result r = c.Exec(kStockTake, {site, product, amount});
        if (r.Affected() != 1) return false;
    }
    return true;
}

SettleOutcome SettleOnce(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                         std::string& detail) {
    db::Tx tx(c);
    std::optional<SlipRow> slip = FindSlip(c, ev.slip_id, /*for_update=*/true);
    if (!slip) {
        detail = "no slip " + ev.slip_id;
        return SettleOutcome::kNoSlip;
    }
    if (ev.amount != slip->amount || ev.currency != slip->currency) {
        detail = "amount/currency " + std::to_string(ev.amount) + " " + ev.currency + " != slip " +
                 std::to_string(slip->amount) + " " + slip->currency;
        return SettleOutcome::kMismatch;
    }
    if (slip->st == domain::SlipState::kOk) {
        if (slip->provider_txn_id && *slip->provider_txn_id != ev.txn_id) {
            detail = "slip already OK with transaction " + *slip->provider_txn_id + ", notified " + ev.txn_id;
            return SettleOutcome::kMismatch;
        }
        detail = "slip already OK";
        return SettleOutcome::kDuplicate;
    }
    if (slip->provider != provider) {
        detail = "slip " + slip->id + " was issued by " + slip->provider + ", not " + provider;
        return SettleOutcome::kMismatch;
    }
    if (ev.txn_id.empty()) {
        detail = "no provider transaction id";
        return SettleOutcome::kMismatch;
    }
    db::Result owner = c.Exec(kSlipTxnOwner, {provider, ev.txn_id, slip->id});
    if (owner.Rows() > 0) {
        detail = "transaction " + ev.txn_id + " already recorded on slip " + owner.Get(0, 0);
        return SettleOutcome::kTxnReused;
    }
    c.Exec(kSlipSettle, {slip->id, ev.txn_id});
    db::Result o = c.Exec(kOrderSettle, {slip->order_id, slip->id, slip->pay_tp});
    if (o.Rows() == 1) {
        tx.Commit();
        detail = "order " + slip->order_id + " -> " + o.Get(0, 0);
        return SettleOutcome::kSettled;
    }
    // The order left NW/WT: expired (FA), or paid through another slip.
    db::Result cur = c.Exec(kOrderForUpdate, {slip->order_id});
    std::string st = cur.Rows() ? cur.Get(0, "or_st") : "?";
    if (st == "FA") {
        c.Simple("SAVEPOINT restock");
        if (RetakeStock(c, slip->site_id, slip->order_id)) {
            c.Exec(kOrderResettle, {slip->order_id, slip->id, slip->pay_tp});
            tx.Commit();
            detail = "expired order " + slip->order_id + " settled late";
            return SettleOutcome::kLateSettled;
        }
        c.Simple("ROLLBACK TO SAVEPOINT restock");
        detail = "paid after expiry and out of stock: refund needed";
    } else {
        detail = "order " + slip->order_id + " already " + st + ": double payment, refund needed";
    }
    c.Exec(kSlipFlagRefund, {slip->id, detail});
    tx.Commit();
    log::Warn("slip ", slip->id, ": ", detail);
    return SettleOutcome::kRefundFlagged;
}

}  // namespace

SettleOutcome Settle(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                     std::string& detail) {
    try {
        return RetryTransient<SettleOutcome>([&] { return SettleOnce(c, provider, ev, detail); });
    } catch (const db::Error& e) {
        // Two different slips settling with one transaction id at the same moment: the unique
        // index lets one through; the other is the reuse the check above would have seen.
        if (e.sqlstate != "23505") throw;
        detail = "transaction " + ev.txn_id + " already recorded on another slip";
        return SettleOutcome::kTxnReused;
    }
}

bool ExpireOrder(db::Connection& c, const std::string& order_id) {
    return RetryTransient<bool>([&] {
        db::Tx tx(c);
        db::Result r = c.Exec(kOrderExpire, {order_id});
        if (r.Rows() != 1) return false;
        std::string site = r.Get(0, 0);
        for (const auto& [product, amount] : LinesByProduct(c, order_id))
            c.Exec(kStockGive, {site, product, amount});
        tx.Commit();
        return true;
    });
}

}  // namespace orderpay::store

// Settlement (one statement: orderpay_settle, migration 010) and expiry. The slip row lock the
// function takes first serialises concurrent duplicates: the second sees st = 'OK', changes nothing.
#include "orderpay/store/settle.hpp"

#include <algorithm>
#include <stdexcept>

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/utf8.hpp"
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

// The order's lines that took stock, in product-id order: every statement that locks product rows takes them
// in this one order (the SQL functions sort with COLLATE "C", the same byte order), so two
// transactions can never wait on each other.
std::vector<std::pair<std::string, std::int64_t>> TakenLinesByProduct(db::Connection& c,
                                                                      const std::string& order_id) {
    db::Result items = c.Exec(kItemsTaken, {order_id});
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (int i = 0; i < items.Rows(); ++i)
        out.emplace_back(items.Get(i, "product_id"), items.GetInt(i, "amount"));
    std::sort(out.begin(), out.end());
    return out;
}

SettleOutcome ParseOutcome(const std::string& s) {
    for (SettleOutcome o : {SettleOutcome::kSettled, SettleOutcome::kDuplicate, SettleOutcome::kLateSettled,
                            SettleOutcome::kRefundFlagged, SettleOutcome::kNoSlip, SettleOutcome::kMismatch,
                            SettleOutcome::kTxnReused})
        if (s == ToString(o)) return o;
    throw std::runtime_error("orderpay_settle answered an unknown outcome: " + s);
}

}  // namespace

SettleResult SettleAndDecide(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                             const std::string& notification_row, const std::string& reason_prefix,
                             const RefundedNote& refunded) {
    const db::Param row = notification_row.empty() ? db::Param(std::nullopt) : db::Param(notification_row);
    const db::Param none(std::nullopt);
    SettleResult res;
    auto read = [&res](const db::Result& r) {
        res.outcome = ParseOutcome(r.Get(0, "outcome"));
        res.detail = r.Get(0, "detail");
        res.verdict = r.Get(0, "verdict");
        res.reason = r.Get(0, "reason");
        res.decided = r.Get(0, "decided") == "t";
    };
    // The record of a refund found beside the payment, when the payment is recorded now or was
    // meanwhile (the same payment: a duplicate): in the same transaction, so a crash leaves neither
    // or both (the slip, once OK, is never asked again), and described only now, under the slip's
    // row lock kSettle took, so a report a refund's notification or another query committed first
    // is seen, and none commits between the look and the write (a report made twice at once).
    auto record_refunded = [&] {
        using O = SettleOutcome;
        if (!refunded || (res.outcome != O::kSettled && res.outcome != O::kLateSettled &&
                          res.outcome != O::kRefundFlagged && res.outcome != O::kDuplicate))
            return;
        const RefundedReport rec = refunded();
        if (rec.reason.empty()) return;
        c.Exec(kNotifyQueryRefunded,
               {ev.slip_id, http::TextOrEscaped(rec.reason, 2000), http::TextOrEscaped(rec.body, 4000)});
        log::Warn("slip ", ev.slip_id, ": ", rec.reason);
    };
    try {
        if (refunded && (reason_prefix.empty() || notification_row.empty())) {
            RetryTransient<bool>([&] {
                db::Tx tx(c);
                read(c.Exec(kSettle, {provider, ev.slip_id, ev.txn_id, ev.amount, ev.currency, row}));
                record_refunded();
                tx.Commit();
                return true;
            });
        } else if (reason_prefix.empty() || notification_row.empty()) {
            // One statement, one transaction (orderpay_settle, migration 010).
            read(RetryTransient<db::Result>([&] {
                return c.Exec(kSettle, {provider, ev.slip_id, ev.txn_id, ev.amount, ev.currency, row});
            }));
        } else {
            // The verdict says what the settlement rests on (our own query): still written in the
            // settlement's transaction, so a crash leaves neither or both (review s21-diff F3).
            RetryTransient<bool>([&] {
                db::Tx tx(c);
                read(c.Exec(kSettle, {provider, ev.slip_id, ev.txn_id, ev.amount, ev.currency, none}));
                res.reason = reason_prefix + res.reason;
                res.decided = c.Exec(kNotifyVerdict, {notification_row, res.verdict,
                                                      http::TextOrEscaped(res.reason, 2000), ev.slip_id})
                                  .Affected() == 1;
                record_refunded();
                tx.Commit();
                return true;
            });
        }
    } catch (const db::Error& e) {
        // Two different slips settling with one transaction id at the same moment: the unique
        // index lets one through; the other is the reuse the function's check would have seen.
        if (e.sqlstate != "23505") throw;
        res.outcome = SettleOutcome::kTxnReused;
        res.detail = "transaction " + ev.txn_id + " already recorded on another slip";
        res.verdict = "rejected";
        // Said on what it rests, as the settlement's own verdict would have been (review s22 L6).
        res.reason = reason_prefix + "txn_id_reused: " + res.detail;
        if (!notification_row.empty())
            res.decided = c.Exec(kNotifyVerdict, {notification_row, res.verdict,
                                                  http::TextOrEscaped(res.reason, 2000), ev.slip_id})
                              .Affected() == 1;
    }
    if (res.outcome == SettleOutcome::kRefundFlagged) log::Warn("slip ", ev.slip_id, ": ", res.detail);
    return res;
}

SettleResult PreviewSettle(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev) {
    SettleResult res;
    try {
        db::Tx tx(c);  // never committed: the destructor rolls everything back
        const db::Result r = c.Exec(
            kSettle, {provider, ev.slip_id, ev.txn_id, ev.amount, ev.currency, db::Param(std::nullopt)});
        res.outcome = ParseOutcome(r.Get(0, "outcome"));
        res.detail = r.Get(0, "detail");
        res.verdict = r.Get(0, "verdict");
        res.reason = r.Get(0, "reason");
    } catch (const db::Error& e) {
        // The unique index's answer to a transaction id another slip took meanwhile, as above.
        if (e.sqlstate != "23505") throw;
        res.outcome = SettleOutcome::kTxnReused;
        res.detail = "transaction " + ev.txn_id + " already recorded on another slip";
        res.verdict = "rejected";
        res.reason = "txn_id_reused: " + res.detail;
    }
    return res;
}

SettleOutcome Settle(db::Connection& c, const std::string& provider, const providers::PaidEvent& ev,
                     std::string& detail, const RefundedNote& refunded) {
    SettleResult r = SettleAndDecide(c, provider, ev, "", {}, refunded);
    detail = r.detail;
    return r.outcome;
}

ReversalResult RecordReversal(db::Connection& c, const std::string& provider,
                              const providers::PaidEvent& ev) {
    const db::Param none(std::nullopt);
    try {
        return RetryTransient<ReversalResult>([&] {
            db::Tx tx(c);
            ReversalResult out;
            db::Result s = c.Exec(kSettle, {provider, ev.slip_id, ev.txn_id, ev.amount, ev.currency, none});
            out.settle = ParseOutcome(s.Get(0, "outcome"));
            out.detail = s.Get(0, "detail");
            if (out.settle == SettleOutcome::kNoSlip || out.settle == SettleOutcome::kMismatch ||
                out.settle == SettleOutcome::kTxnReused)
                return out;  // not ours to refund: rolled back, and the caller logs it for the operator
            out.first = c.Exec(kSlipReversed, {ev.slip_id}).Affected() == 1;
            // All that is left of the slip (orderpay_refund_open, under the slip lock): nothing
            // when an earlier call recorded it. An operator's refund in flight is counted; if it
            // fails, orderpay_refund_finish records its amount as the provider's (migration 015).
            const std::string id = crypto::RandomId(26);
            db::Result o =
                c.Exec(kRefundOpen, {none, std::string(), ev.slip_id, none,
                                     std::string("paid while being voided; the provider refunded it"),
                                     std::string("provider"), none, id});
            if (o.Get(0, "outcome") == "created") {
                c.Exec(kRefundFinish,
                       {id, true, std::string(), "refunded by the provider's void of " + ev.txn_id});
                out.refund_id = id;
            } else {
                out.detail += "; no refund recorded: " + o.GetOpt(0, "detail").value_or(o.Get(0, "outcome"));
            }
            // Paid and refunded in this one transaction: no one saw the order paid. When a
            // notification settled it first, the shop may have shipped, and the stock stays held
            // as for any refunded order.
            if (out.settle == SettleOutcome::kSettled || out.settle == SettleOutcome::kLateSettled) {
                db::Result rel = c.Exec(kOrderReleaseVoided, {ev.slip_id});
                if (rel.Rows() == 1) {
                    for (const auto& [product, amount] : TakenLinesByProduct(c, rel.Get(0, "id")))
                        c.Exec(kStockGive, {rel.Get(0, "site_id"), product, amount});
                    out.stock_released = true;
                }
            }
            tx.Commit();
            return out;
        });
    } catch (const db::Error& e) {
        if (e.sqlstate != "23505") throw;  // as in SettleAndDecide: the id went to another slip meanwhile
        return {SettleOutcome::kTxnReused, "",
                "transaction " + ev.txn_id + " already recorded on another slip"};
    }
}

bool ExpireOrder(db::Connection& c, const std::string& order_id) {
    return RetryTransient<bool>([&] {
        db::Tx tx(c);
        db::Result r = c.Exec(kOrderExpire, {order_id});
        if (r.Rows() != 1) return false;
        std::string site = r.Get(0, 0);
        for (const auto& [product, amount] : TakenLinesByProduct(c, order_id))
            c.Exec(kStockGive, {site, product, amount});
        tx.Commit();
        return true;
    });
}

}  // namespace orderpay::store

// Query-then-void for scan payments whose first answer did not settle them.
#include "orderpay/providers/scan_resolve.hpp"

#include <unistd.h>

namespace orderpay::providers {

CreateResult ResolveScan(const ScanResolve& r, const std::string& note) {
    CreateResult res;
    for (int i = 0; i < r.tries; ++i) {
        usleep(static_cast<useconds_t>(r.interval_ms) * 1000);
        QueryResult q = r.query();
        using S = QueryResult::State;
        if (q.state == S::kPaid) {
            res.outcome = Outcome::kPaid;
            res.txn_id = q.txn_id;
            res.paid_amount = q.amount;
            res.paid_currency = q.currency;
            return res;
        }
        if (q.state == S::kClosed || q.state == S::kFailed ||
            (r.not_found_is_final && q.state == S::kNotFound)) {
            res.outcome = Outcome::kFailed;
            res.message = "scan payment failed: " + q.message;
            res.decline = res.message;
            return res;
        }
    }
    if (r.before_void) r.before_void();
    if (VoidResult v = r.void_trade(); v.done) {
        res.outcome = Outcome::kFailed;
        res.reversed_txn = v.reversed_txn;
        res.message = "not confirmed in time, " + r.void_name + " (" + note + ")";
        if (!v.reversed_txn.empty()) res.message += "; paid meanwhile and refunded by the void";
        res.decline = "not confirmed in time, " + r.void_name;
        if (!v.reversed_txn.empty()) res.decline += ", and the money went back to the buyer";
        return res;
    }
    // Still unknown: the slip stays WAIT and `orderpay reconcile` lists it for the operator.
    res.outcome = Outcome::kUnknown;
    res.message = "not confirmed and not " + r.void_name + " (" + note + ")";
    return res;
}

CloseResult EndScanByVoid(const std::function<QueryResult()>& query, const std::function<bool()>& void_trade,
                          const std::string& void_name) {
    using S = QueryResult::State;
    CloseResult c;
    const QueryResult q = query();
    c.message = "query: " + q.message;
    if (q.state == S::kPaid) {
        c.already_paid = true;
    } else if (q.state == S::kClosed || q.state == S::kFailed || q.state == S::kNotFound) {
        c.closed = true;
    } else if (q.state != S::kUnknown) {  // not paid, or the buyer is confirming: void it
        // A payment confirmed between the query and the void is refunded by the void (WeChat's
        // reverse): the buyer has the money back and the order fails, as in ResolveScan.
        c.closed = void_trade();
        c.message += c.closed ? "; " + void_name : "; not " + void_name;
    }
    return c;
}

}  // namespace orderpay::providers

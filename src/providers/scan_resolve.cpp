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
            return res;
        }
    }
    if (r.before_void) r.before_void();
    if (VoidResult v = r.void_trade(); v.done) {
        res.outcome = Outcome::kFailed;
        res.reversed_txn = v.reversed_txn;
        res.message = "not confirmed in time, " + r.void_name + " (" + note + ")";
        if (!v.reversed_txn.empty()) res.message += "; paid meanwhile and refunded by the void";
        return res;
    }
    // Still unknown: the slip stays WAIT and `orderpay reconcile` lists it for the operator.
    res.outcome = Outcome::kUnknown;
    res.message = "not confirmed and not " + r.void_name + " (" + note + ")";
    return res;
}

}  // namespace orderpay::providers

// Shipping and closing orders of goods (DESIGN.md §3: OK -> SP -> DN "by the operator"). The
// conditional UPDATE decides; this says what the order is when it did not move, so the operator
// knows whether to do anything: a repeat is "already", any other state names itself.
#include "orderpay/app/fulfil.hpp"

namespace orderpay::app {

namespace {

std::string_view StateWords(const std::string& st) {
    if (st == "NW") return "new, not yet sent for payment";
    if (st == "WT") return "waiting for payment";
    if (st == "OK") return "paid, not shipped";
    if (st == "FA") return "failed or expired, never paid";
    if (st == "SP") return "shipped";
    if (st == "DN") return "done";
    if (st == "RF") return "refunded in full";
    return "unknown state";
}

// `order done --charged-back`: the end of an order whose payment its provider took back.
FulfilAnswer DescribeClose(const std::string& id, const store::FulfilRow& row) {
    const std::string order = "order " + id;
    const std::string is = order + " is " + row.or_st + " (" + std::string(StateWords(row.or_st)) + ")";
    // The UPDATE leaves sp_at as it was: set, the order was SP.
    if (row.changed)
        return {FulfilOutcome::kMoved, order + " done after its chargeback (" +
                                           (row.shipped ? "SP -> DN)" : "OK -> DN, never shipped)")};
    // The flag says the money is gone: never taken on the operator's word alone.
    if (!row.chargeback) {
        const std::string hint = row.or_st == "OK"   ? "orderpay order ship " + id
                                 : row.or_st == "SP" ? "orderpay order done " + id
                                                     : "";
        return {FulfilOutcome::kRefused,
                is + ", and no chargeback of its payment is on record: --charged-back closes only an order "
                     "whose provider took the payment back (orderpay reconcile lists it CHARGEBACK)",
                hint};
    }
    if (row.or_st == "DN") return {FulfilOutcome::kAlready, is + " already"};
    if (row.tp != "A") return {FulfilOutcome::kRefused, is + ": only an order of goods (tp A) is shipped"};
    // Charged back and OK or SP, yet not moved: the chargeback was recorded between the UPDATE and
    // this read of the order.
    if (row.or_st == "OK" || row.or_st == "SP")
        return {FulfilOutcome::kRefused, is + ": its chargeback was recorded while this ran; try again"};
    return {FulfilOutcome::kRefused,
            is + ": only a paid (OK) or shipped (SP) order is closed after a chargeback"};
}

}  // namespace

FulfilAnswer DescribeFulfil(const std::string& id, store::FulfilStep step, const store::FulfilRow& row) {
    if (step == store::FulfilStep::kCloseChargedBack) return DescribeClose(id, row);
    const bool ship = step == store::FulfilStep::kShip;
    const std::string order = "order " + id;
    const std::string is = order + " is " + row.or_st + " (" + std::string(StateWords(row.or_st)) + ")";
    if (row.changed)
        return {FulfilOutcome::kMoved, order + (ship ? " shipped (OK -> SP)" : " done (SP -> DN)")};
    if (row.tp == "Q" && row.or_st == "DN")
        return ship ? FulfilAnswer{FulfilOutcome::kRefused,
                                   is + ": virtual goods (tp Q) are done when paid, nothing to ship"}
                    : FulfilAnswer{FulfilOutcome::kAlready, is + " already"};
    if (row.tp != "A") return {FulfilOutcome::kRefused, is + ": only an order of goods (tp A) is shipped"};
    // Done implies shipped: a script that ships then closes can run again from the start.
    if (ship && (row.or_st == "SP" || row.or_st == "DN")) return {FulfilOutcome::kAlready, is + " already"};
    if (!ship && row.or_st == "DN") return {FulfilOutcome::kAlready, is + " already"};
    // The money is gone whatever else holds: said first.
    if (row.or_st == (ship ? "OK" : "SP") && row.chargeback)
        return {FulfilOutcome::kRefused,
                is + ", but its provider took the payment back (a chargeback): do not " +
                    (ship ? "ship" : "close") + " it; settle with the buyer",
                "orderpay reconcile lists it CHARGEBACK for a week after the report; once settled, "
                "close it with orderpay order done " +
                    id + " --charged-back"};
    if (row.or_st == (ship ? "OK" : "SP") && row.voiding)
        return {FulfilOutcome::kRefused,
                is +
                    ", but a void of its payment was sent and the provider has not said whether it gave "
                    "the money back: " +
                    (ship ? "ship" : "close") + " it once the provider has answered",
                "orderpay reconcile lists it VOID until then"};
    if (row.or_st == (ship ? "OK" : "SP")) {
        // The only other reason the UPDATE leaves it: refunds that are not FAIL cover the payment.
        return {FulfilOutcome::kRefused,
                is + ", but refunds of all of its payment are under way" +
                    (row.under_way.empty() ? "" : " (refund " + row.under_way + ")") +
                    ": its money is going back to the buyer; if that refund fails, " +
                    (ship ? "ship" : "close") + " it then"};
    }
    if (!ship && row.or_st == "OK")
        return {FulfilOutcome::kRefused, is + ": ship it first", "orderpay order ship " + id};
    return {FulfilOutcome::kRefused,
            is + (ship ? ": only a paid order (OK) is shipped" : ": only a shipped order (SP) is done")};
}

FulfilAnswer Fulfil(db::Connection& c, const std::string& site, const std::string& id,
                    store::FulfilStep step) {
    std::optional<store::FulfilRow> row = store::FulfilOrder(c, site, id, step);
    if (!row) return {FulfilOutcome::kNoOrder, "no such order " + id + " in site " + site};
    return DescribeFulfil(id, step, *row);
}

}  // namespace orderpay::app

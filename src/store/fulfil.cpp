// Ship and done (statements order_ship, order_done): the UPDATE decides; only when it changed
// nothing is the order read again, to say why.
#include "orderpay/store/fulfil.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

std::optional<FulfilRow> FulfilOrder(db::Connection& c, const std::string& site, const std::string& id,
                                     FulfilStep step) {
    FulfilRow out;
    const db::Statement& move = step == FulfilStep::kShip   ? kOrderShip
                                : step == FulfilStep::kDone ? kOrderDone
                                                            : kOrderCloseChargedBack;
    db::Result u = c.Exec(move, {id, site});
    out.changed = u.Rows() == 1;
    db::Result r = c.Exec(kOrderFulfilment, {id, site});
    if (r.Rows() != 1) return std::nullopt;
    out.or_st = r.Get(0, "or_st");
    out.tp = r.Get(0, "tp");
    if (std::optional<std::string> paid = r.GetOpt(0, "paid")) out.paid = std::stoll(*paid);
    out.held = std::stoll(r.Get(0, "held"));
    out.under_way = r.GetOpt(0, "under_way").value_or("");
    out.voiding = r.GetOpt(0, "voiding").value_or("f") == "t";
    out.chargeback = r.GetOpt(0, "chargeback").value_or("f") == "t";
    out.shipped = r.Get(0, "shipped") == "t";
    return out;
}

}  // namespace orderpay::store

// Reads the one-statement order views (pay/check's, the order after a slip is taken) into parts.
#include "orderpay/store/check_view.hpp"

#include "orderpay/domain/ids.hpp"
#include "orderpay/store/statements.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

std::optional<OrderView> LoadOrderView(db::Connection& c, const std::string& site, const std::string& id) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    db::Result r = c.Exec(kOrderView, {site, id});
    if (r.Rows() == 0) return std::nullopt;
    OrderView v;
    OrderParts(r, 0, r.Rows(), v.order, v.items, v.slip);
    return v;
}

std::optional<OrderView> MarkWaiting(db::Connection& c, const std::string& site, const std::string& slip_id,
                                     const std::string& order_id, const std::string& re_tp,
                                     const std::string& re_obj, const std::string& note,
                                     const std::string& provider_ref) {
    db::Result r = c.Exec(kSlipWaitView, {site, order_id, slip_id, re_tp, re_obj, note, provider_ref});
    if (r.Rows() == 0) return std::nullopt;
    // The slip was no longer NEW, or the order no longer waiting on it, when the statement got
    // their locks: a settlement (of this slip or another), a pay/pay or an expiry held one and
    // committed after the snapshot the rest of the answer comes from, which would show a paid
    // order as still to pay. Read again: the rare path, one statement more.
    if (r.Get(0, "fresh") != "t") return LoadOrderView(c, site, order_id);
    OrderView v;
    OrderParts(r, 0, r.Rows(), v.order, v.items, v.slip);
    return v;
}

CheckView LoadCheckView(db::Connection& c, const std::string& site, const std::string& ticket,
                        const std::string& order_id) {
    // A ticket longer than any we issue, or none, still runs the statement (site and store are
    // needed for the answer) with a hash no session has.
    std::string hash = !ticket.empty() && ticket.size() <= 256 ? TicketHash(ticket) : std::string(64, '0');
    db::Result r = c.Exec(kCheckView, {site, hash, domain::IsOrderId(order_id) ? order_id : std::string()});
    CheckView v;
    if (r.Rows() == 0) return v;
    v.site_found = !r.IsNull(0, r.Col("site_id_found"));
    v.account_store = r.GetOpt(0, "account_store");
    if (!r.IsNull(0, r.Col("se_store"))) v.buyer = Buyer{r.Get(0, "se_store"), r.Get(0, "se_account"), ""};
    if (r.Get(0, "order_found") != "t") return v;
    v.order.emplace();
    OrderParts(r, 0, r.Rows(), *v.order, v.items, v.slip);
    if (!r.IsNull(0, r.Col("s_queried_ago_ms"))) v.slip_queried_ago_ms = r.GetInt(0, "s_queried_ago_ms");
    return v;
}

}  // namespace orderpay::store

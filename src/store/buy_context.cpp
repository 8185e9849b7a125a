// Reads pay/buy's one statement (kBuyContext) into its parts.
#include "orderpay/store/buy_context.hpp"

#include "orderpay/store/statements.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

BuyContext LoadBuyContext(db::Connection& c, const std::string& site, const std::string& ticket,
                          const std::string& prefix, const std::vector<std::string>& product_ids,
                          const std::string& idem_key) {
    // A ticket longer than any we issue, or none, still runs the statement (the site's answer
    // comes first) with a hash no session has.
    std::string hash = !ticket.empty() && ticket.size() <= 256 ? TicketHash(ticket) : std::string(64, '0');
    db::Result r = c.Exec(kBuyContext, {site, hash, prefix, TextArray(product_ids),
                                        idem_key.empty() ? db::Param(std::nullopt) : db::Param(idem_key)});
    BuyContext v;
    if (r.Rows() == 0 || r.IsNull(0, r.Col("site_id_found"))) return v;
    v.site = Site{r.Get(0, "site_id_found"), r.Get(0, "site_name"), r.GetOpt(0, "account_store"),
                  r.Get(0, "site_currency"), static_cast<int>(r.GetInt(0, "expire_minutes"))};
    if (!r.IsNull(0, r.Col("se_store")))
        v.buyer = Buyer{r.Get(0, "se_store"), r.Get(0, "se_account"), r.GetOpt(0, "se_openid").value_or("")};
    if (!r.IsNull(0, r.Col("m_id")))
        v.seller = providers::Merchant{r.Get(0, "m_id"),     r.Get(0, "m_provider"),  r.Get(0, "m_app_id"),
                                       r.Get(0, "m_mch_id"), r.Get(0, "m_sign_type"), r.Get(0, "m_api_key"),
                                       r.Get(0, "m_options")};
    if (!r.IsNull(0, r.Col("idem_order"))) v.idem = IdemOrder{r.Get(0, "idem_order"), r.Get(0, "idem_hash")};
    for (int i = 0; i < r.Rows(); ++i) {
        if (r.IsNull(i, r.Col("p_id"))) continue;
        Product p{r.Get(i, "p_id"), r.Get(i, "p_title"), r.GetInt(i, "p_price"), r.Get(i, "p_currency")};
        v.products.emplace(p.id, std::move(p));
    }
    return v;
}

}  // namespace orderpay::store

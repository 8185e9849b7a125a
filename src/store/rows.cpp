// Row lookups for sites, sessions, merchants and slips.
#include "orderpay/store/rows.hpp"

#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/store/statements.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

namespace {

providers::Merchant MerchantFrom(const db::Result& r, int row = 0) {
    return providers::Merchant{r.Get(row, "id"),     r.Get(row, "provider"),  r.Get(row, "app_id"),
                               r.Get(row, "mch_id"), r.Get(row, "sign_type"), r.Get(row, "api_key"),
                               r.Get(row, "options")};
}

}  // namespace

std::string TicketHash(const std::string& ticket) {
    return crypto::HexLower(crypto::Sha256(ticket));
}

std::optional<Site> FindSite(db::Connection& c, const std::string& id) {
    db::Result r = c.Exec(kSiteGet, {id});
    if (r.Rows() == 0) return std::nullopt;
    return Site{r.Get(0, "id"), r.Get(0, "name"), r.GetOpt(0, "account_store"), r.Get(0, "currency"),
                static_cast<int>(r.GetInt(0, "expire_minutes"))};
}

std::optional<Buyer> FindSession(db::Connection& c, const std::string& ticket) {
    if (ticket.empty() || ticket.size() > 256) return std::nullopt;
    db::Result r = c.Exec(kSessionGet, {TicketHash(ticket)});
    if (r.Rows() == 0) return std::nullopt;
    return Buyer{r.Get(0, "store_id"), r.Get(0, "account_id"), r.GetOpt(0, "wx_openid").value_or("")};
}

std::optional<providers::Merchant> FindSeller(db::Connection& c, const std::string& site,
                                              const std::string& prefix) {
    db::Result r = c.Exec(kSellerGet, {site, prefix});
    if (r.Rows() == 0) return std::nullopt;
    return MerchantFrom(r);
}

std::optional<providers::Merchant> FindMerchant(db::Connection& c, const std::string& id) {
    db::Result r = c.Exec(kMerchantGet, {id});
    if (r.Rows() == 0) return std::nullopt;
    return MerchantFrom(r);
}

std::vector<providers::Merchant> MerchantsOf(db::Connection& c, const std::string& provider,
                                             const std::string& site, const std::string& api) {
    db::Result r = c.Exec(kMerchantsOfProvider, {provider, site, api});
    std::vector<providers::Merchant> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back(MerchantFrom(r, i));
    return out;
}

std::optional<SlipRow> FindSlip(db::Connection& c, const std::string& id, bool for_update) {
    if (!domain::IsOrderId(id)) return std::nullopt;
    db::Result r = c.Exec(for_update ? kSlipForUpdate : kSlipGet, {id});
    if (r.Rows() == 0) return std::nullopt;
    return SlipFrom(r, 0);
}

std::vector<SlipRow> OrderSlips(db::Connection& c, const std::string& order_id) {
    db::Result r = c.Exec(kSlipsOfOrder, {order_id});
    std::vector<SlipRow> out;
    for (int i = 0; i < r.Rows(); ++i) out.push_back(SlipFrom(r, i));
    return out;
}

std::optional<SlipRow> FindSlipByRef(db::Connection& c, const std::string& provider, const std::string& ref) {
    if (ref.empty() || ref.size() > 64) return std::nullopt;
    for (char ch : ref)
        if (ch < '!' || ch > '~') return std::nullopt;
    db::Result r = c.Exec(kSlipByRef, {provider, ref});
    if (r.Rows() == 0) return std::nullopt;
    return SlipFrom(r, 0);
}

std::optional<std::string> SiteReturnUrl(db::Connection& c, const std::string& site) {
    db::Result r = c.Exec(kSiteReturnUrl, {site});
    if (r.Rows() == 0) return std::nullopt;
    return r.GetOpt(0, "return_url");
}

std::optional<SlipRow> LiveSlip(db::Connection& c, const std::string& order_id) {
    db::Result r = c.Exec(kSlipLive, {order_id});
    if (r.Rows() == 0) return std::nullopt;
    return SlipFrom(r, 0);
}

void Ping(db::Connection& c) {
    c.Exec(kPing, {});
}

}  // namespace orderpay::store

// Typed rows read from the store, and the lookups handlers need (sites, sessions, sellers, slips).
// States leave the store as the domain's enums; the SQL text names them as the schema does.
#pragma once

#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"
#include "orderpay/domain/states.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::store {

struct Site {
    std::string id;
    std::string name;
    std::optional<std::string> account_store;
    std::string currency;
    int expire_minutes = 30;
};

struct Buyer {
    std::string store_id;
    std::string account_id;
    std::string openid;
};

struct SlipRow {
    std::string id, order_id, site_id, pay_tp, provider, merchant_id;
    std::int64_t amount = 0;
    std::string currency;
    domain::SlipState st = domain::SlipState::kNew;
    std::string re_tp, re_obj;
    std::optional<std::string> provider_txn_id;
    bool superseded = false, refund_needed = false;
    std::string note;
    std::string provider_ref;  // the provider's own id for the payment (PayPal order id), or ""
    // How long ago the slip was made, by the database's clock (nullopt where a statement does not
    // read it): while it is WAIT, the most its code can have lived, a resent slip's included
    // (SLIP_CODE_AGE; providers::CodeOutlived reads it against the code's lifetime).
    std::optional<std::int64_t> code_age_ms;

    /// NEW or WAIT: the provider may still take money on it.
    bool Open() const { return st == domain::SlipState::kNew || st == domain::SlipState::kWait; }
};

std::optional<Site> FindSite(db::Connection& c, const std::string& id);

/// The live session for a ticket (looked up by its SHA-256; expired ones do not count).
std::optional<Buyer> FindSession(db::Connection& c, const std::string& ticket);

/// The merchant a site uses for a pay-type prefix ("wx", "zfb", "paypal").
std::optional<providers::Merchant> FindSeller(db::Connection& c, const std::string& site,
                                              const std::string& prefix);
std::optional<providers::Merchant> FindMerchant(db::Connection& c, const std::string& id);
/// Up to 100 merchants of `provider` speaking `api` ("v3": options "api" is exactly "v3", as the
/// WeChat provider reads it; any other value: every merchant that is not v3; "" = any),
/// `site`'s seller for that prefix first.
std::vector<providers::Merchant> MerchantsOf(db::Connection& c, const std::string& provider,
                                             const std::string& site, const std::string& api = "");

/// A slip by id; an id that cannot be one (schema charset, length) is not looked up.
std::optional<SlipRow> FindSlip(db::Connection& c, const std::string& id, bool for_update = false);
/// The slip a provider knows by its own id (PayPal's order id, or the capture id a refund
/// webhook names, which the slip holds as its provider transaction id); a ref that cannot be one is not
/// looked up.
std::optional<SlipRow> FindSlipByRef(db::Connection& c, const std::string& provider, const std::string& ref);
/// The site's return page for browsers coming back from a provider, if it has one.
std::optional<std::string> SiteReturnUrl(db::Connection& c, const std::string& site);
std::optional<SlipRow> LiveSlip(db::Connection& c, const std::string& order_id);

/// One round trip to the server (/healthz): a connection whose server went away still looks
/// open until it is used, so only a statement tells. Throws db::Unavailable when it fails.
void Ping(db::Connection& c);

/// Hex SHA-256 of a ticket: what the sessions table stores.
std::string TicketHash(const std::string& ticket);

}  // namespace orderpay::store

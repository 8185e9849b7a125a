// What a handler gets: settings parsed once from config, the worker's database connection and
// the registry's providers, plus the request's resolved site and buyer.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "orderpay/core/config.hpp"
#include "orderpay/db/connection.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

struct Settings {
    std::string db;
    std::string notify_base_url;  // providers call NotifyUrl: {base}/api/{site}/pay/re_<provider>
    std::int64_t query_min_interval_ms = 5000;
    // A NEW slip older than this has lost its sender (see app/resend.hpp); never under three
    // provider calls' worth of http.timeout_ms, so a live sender is never overtaken.
    std::int64_t resend_after_ms = 60000;
    std::int64_t provider_call_ms = 10000;  // one provider call at most (http.timeout_ms)
    std::size_t max_body = 64 * 1024;
    std::int64_t db_lock_timeout_ms = 2000;  // set on every worker connection; 0: the server's
    std::int64_t db_statement_timeout_ms = 10000;
    int scan_max_waiting = 4;  // workers that may serve a scan payment at once (app/scan_gate.hpp)
    Config cfg;                // each provider reads its own keys from it

    /// Expects a config CheckConfig accepted (core/config_check.hpp).
    static Settings From(const Config& cfg);

    /// Where `provider` notifies us about a payment or refund of a slip of `site_id`: the one
    /// route, pay/re_<provider>, takes both.
    std::string NotifyUrl(const std::string& site_id, const std::string& provider) const {
        return notify_base_url + "/api/" + site_id + "/pay/re_" + provider;
    }
};

/// The providers' SharedCache on the worker's database connection (store/cache).
class DbCache final : public providers::SharedCache {
  public:
    explicit DbCache(db::Connection& db) : db_(db) {}
    std::optional<std::string> Get(const std::string& key) override;
    void Put(const std::string& key, const std::string& value, std::int64_t ttl_s) override;
    void Drop(const std::string& key) override;
    bool Claim(const std::string& key, std::int64_t ttl_s) override;

  private:
    db::Connection& db_;
    std::map<std::string, std::string> last_;  // what Get returned, so Drop removes only that
};

class Context {
  public:
    Context(Settings s, db::Connection& db);
    const Settings& settings() const { return settings_; }
    db::Connection& db() { return db_; }
    const providers::Providers& providers() const { return providers_; }

    /// The provider with this id ("wx", "zfb"), or nullptr when the registry has none.
    providers::Provider* ProviderFor(std::string_view id) const { return providers_.Find(id); }

  private:
    Settings settings_;
    db::Connection& db_;
    DbCache cache_;
    providers::Providers providers_;
};

/// Per-request state resolved before the handler runs.
struct Call {
    store::Site site;
    std::optional<store::Buyer> buyer;  // set for routes that need a ticket
    std::string api_key_id;             // the operator API key's id, for routes that need one
};

}  // namespace orderpay::app

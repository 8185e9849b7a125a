// What a handler gets: settings parsed once from config, the worker's database connection and
// the providers, plus the request's resolved site and buyer.
#pragma once

#include <memory>
#include <string>

#include "orderpay/core/config.hpp"
#include "orderpay/db/connection.hpp"
#include "orderpay/providers/alipay/client.hpp"
#include "orderpay/providers/provider.hpp"
#include "orderpay/providers/wxpay/client.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

struct Settings {
    std::string db;
    std::string notify_base_url;  // providers call {base}/api/{site}/pay/re_wx
    std::int64_t query_min_interval_ms = 5000;
    std::size_t max_body = 64 * 1024;
    wxpay::WxOptions wx;
    alipay::AlipayOptions zfb;

    static Settings From(const Config& cfg);
};

class Context {
  public:
    Context(Settings s, db::Connection& db);
    const Settings& settings() const { return settings_; }
    db::Connection& db() { return db_; }

    /// The provider for a pay-type prefix, or nullptr when this build has none for it.
    providers::Provider* ProviderFor(const std::string& prefix);

  private:
    Settings settings_;
    db::Connection& db_;
    std::unique_ptr<providers::Provider> wx_;
    std::unique_ptr<providers::Provider> zfb_;
};

/// Per-request state resolved before the handler runs.
struct Call {
    store::Site site;
    std::optional<store::Buyer> buyer;  // set for routes that need a ticket
};

}  // namespace orderpay::app

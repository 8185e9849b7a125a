// Builds the settings from config and owns the provider instances of one worker.
#include "orderpay/app/context.hpp"

namespace orderpay::app {

Settings Settings::From(const Config& cfg) {
    Settings s;
    s.db = cfg.Get("db", "dbname=orderpay");
    s.notify_base_url = cfg.Get("notify_base_url", "http://127.0.0.1");
    while (!s.notify_base_url.empty() && s.notify_base_url.back() == '/') s.notify_base_url.pop_back();
    s.query_min_interval_ms = cfg.GetInt("query_min_interval_ms", 5000);
    s.max_body = static_cast<std::size_t>(cfg.GetInt("max_body_bytes", 64 * 1024));
    s.cfg = cfg;
    return s;
}

Context::Context(Settings s, db::Connection& db)
    : settings_(std::move(s)), db_(db), providers_(settings_.cfg) {}

}  // namespace orderpay::app

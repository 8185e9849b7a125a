// Builds the settings from config and owns the provider instances of one worker.
#include "orderpay/app/context.hpp"

#include <algorithm>

#include "orderpay/app/scan_gate.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/store/cache.hpp"

namespace orderpay::app {

Settings Settings::From(const Config& cfg) {
    Settings s;
    s.db = cfg.Get("db", kDefaultDb);
    s.notify_base_url = cfg.Get("notify_base_url", "http://127.0.0.1");
    while (!s.notify_base_url.empty() && s.notify_base_url.back() == '/') s.notify_base_url.pop_back();
    s.query_min_interval_ms = cfg.GetInt("query_min_interval_ms", 5000);
    const std::int64_t call_ms = providers::TimeoutsFrom(cfg).total_ms;
    s.resend_after_ms = std::max<std::int64_t>(cfg.GetInt("buy.resend_after_ms", 60000), 3 * call_ms);
    s.provider_call_ms = call_ms;
    s.max_body = static_cast<std::size_t>(cfg.GetInt("max_body_bytes", 64 * 1024));
    // Without a lock_timeout one forgotten transaction in psql holding a product's row stopped
    // the whole shop: every worker waited on that row, /healthz and other products' buys
    // included, for as long as it stayed open. Checked by CheckConfig (0..3600000).
    s.db_lock_timeout_ms = cfg.GetInt("db.lock_timeout_ms", 2000);
    s.db_statement_timeout_ms = cfg.GetInt("db.statement_timeout_ms", 10000);
    s.scan_max_waiting = scan_gate::LimitFrom(cfg);
    s.cfg = cfg;
    return s;
}

Context::Context(Settings s, db::Connection& db)
    : settings_(std::move(s)), db_(db), cache_(db), providers_(settings_.cfg) {
    for (const auto& p : providers_.all()) p->UseCache(&cache_);
}

std::optional<std::string> DbCache::Get(const std::string& key) {
    std::optional<std::string> v = store::CacheGet(db_, key);
    if (v) last_[key] = *v;
    return v;
}

void DbCache::Put(const std::string& key, const std::string& value, std::int64_t ttl_s) {
    store::CachePut(db_, key, value, ttl_s);
    last_[key] = value;
}

void DbCache::Drop(const std::string& key) {
    auto it = last_.find(key);
    if (it == last_.end()) return;
    store::CacheDrop(db_, key, it->second);
    last_.erase(it);
}

bool DbCache::Claim(const std::string& key, std::int64_t ttl_s) {
    return store::CacheClaim(db_, key, ttl_s);
}

}  // namespace orderpay::app

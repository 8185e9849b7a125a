// The providers' shared cache: its statements (prepared at connect through AllStatements) and
// their single calls, never inside a caller's transaction.
#include "orderpay/store/cache.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

// The shared provider cache: a row past its expiry is as good as absent.
const db::Statement kCacheGet{"cache_get",
                              "SELECT value FROM provider_cache WHERE key = $1 AND expires_at > now()"};
const db::Statement kCachePut{
    "cache_put",
    "INSERT INTO provider_cache (key, value, expires_at) VALUES ($1, $2, now() + make_interval(secs => "
    "$3::float8)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"};
const db::Statement kCacheDrop{"cache_drop", "DELETE FROM provider_cache WHERE key = $1 AND value = $2"};
// Taken only when absent or expired; under a conflict the row lock serialises the takers, so one
// of them gets the row back.
const db::Statement kCacheClaim{
    "cache_claim",
    "INSERT INTO provider_cache (key, value, expires_at) VALUES ($1, 'claimed', now() + make_interval(secs "
    "=> "
    "$2::float8)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at "
    "WHERE provider_cache.expires_at <= now() RETURNING key"};

std::optional<std::string> CacheGet(db::Connection& c, const std::string& key) {
    db::Result r = c.Exec(kCacheGet, {key});
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, "value");
}

void CachePut(db::Connection& c, const std::string& key, const std::string& value, std::int64_t ttl_s) {
    c.Exec(kCachePut, {key, value, std::to_string(ttl_s)});
}

void CacheDrop(db::Connection& c, const std::string& key, const std::string& value) {
    c.Exec(kCacheDrop, {key, value});
}

std::int64_t CachePrune(db::Connection& c) {
    return c.Query(kCachePrune.sql, {}).Affected();
}

bool CacheClaim(db::Connection& c, const std::string& key, std::int64_t ttl_s) {
    return c.Exec(kCacheClaim, {key, std::to_string(ttl_s)}).Rows() == 1;
}

}  // namespace orderpay::store

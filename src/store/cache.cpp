// The providers' shared cache: single statements, never inside a caller's transaction.
#include "orderpay/store/cache.hpp"

#include "orderpay/store/statements.hpp"

namespace orderpay::store {

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

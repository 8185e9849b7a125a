// The providers' shared cache (table provider_cache): values every worker may reuse until they
// expire, so that e.g. one PayPal token serves every worker instead of one fetch per payment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

/// The value under `key` unless it expired.
std::optional<std::string> CacheGet(db::Connection& c, const std::string& key);
/// Stores `value` for `ttl_s` seconds, replacing what was there.
void CachePut(db::Connection& c, const std::string& key, const std::string& value, std::int64_t ttl_s);
/// Removes `key` only while it still holds `value` (a token another worker refreshed meanwhile
/// stays).
void CacheDrop(db::Connection& c, const std::string& key, const std::string& value);
/// Drops what expired over an hour ago (the CLI's `expire`); how many rows.
std::int64_t CachePrune(db::Connection& c);
/// Takes `key` for `ttl_s` seconds when it is absent or expired; true for one caller of all.
bool CacheClaim(db::Connection& c, const std::string& key, std::int64_t ttl_s);

}  // namespace orderpay::store

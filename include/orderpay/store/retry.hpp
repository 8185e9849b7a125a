// Runs a transaction again when PostgreSQL aborted it for a deadlock or a serialization failure
// (SQLSTATE 40P01 / 40001): nothing of it was committed, so running it again is safe.
#pragma once

#include <unistd.h>

#include "orderpay/core/log.hpp"
#include "orderpay/db/connection.hpp"

namespace orderpay::store {

inline bool IsTransient(const db::Error& e) {
    return e.sqlstate == "40P01" || e.sqlstate == "40001";
}

/// A lock waited past lock_timeout (55P03) or a statement past statement_timeout or cancelled
/// (57014): its transaction rolled back, and the same request later may well succeed.
inline bool IsTimeout(const db::Error& e) {
    return e.sqlstate == "55P03" || e.sqlstate == "57014";
}

template <typename T, typename F>
T RetryTransient(F&& attempt, int tries = 5) {
    for (int i = 1;; ++i) {
        try {
            return attempt();
        } catch (const db::Error& e) {
            if (!IsTransient(e) || i >= tries) throw;
            log::Warn("transaction retried (", e.sqlstate, ", attempt ", i, ")");
            usleep(static_cast<useconds_t>(1000 * i));  // a little apart, so the pair does not meet again
        }
    }
}

}  // namespace orderpay::store

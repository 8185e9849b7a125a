// The invariants orderpay promises, checked in SQL against the live database (`orderpay audit`):
// what no crash, duplicate, race or lying provider may ever break.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orderpay/db/connection.hpp"

namespace orderpay::store {

struct Violation {
    std::string invariant;  // e.g. "paid_order_one_ok_slip"
    std::string subject;    // the order, slip, product or notification id
    std::string detail;
};

struct AuditLimits {
    std::int64_t replay_interval_s = 600;  // a notification may stay "received" this long
    std::int64_t expire_grace_s = 600;     // an unpaid order may outlive its expiry this long
};

/// Every violation found (empty: all invariants hold). Read-only, in one snapshot.
std::vector<Violation> Audit(db::Connection& c, const AuditLimits& limits);

/// The invariants' names and what each one means, in check order.
struct InvariantInfo {
    const char* name;
    const char* meaning;
};
std::vector<InvariantInfo> Invariants();

}  // namespace orderpay::store

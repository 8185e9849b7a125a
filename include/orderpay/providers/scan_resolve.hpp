// The loop both providers' scan payments share once the first answer was "buyer confirming" or
// "unknown": query until paid or definitely failed, then void the trade so the buyer is never
// charged for an order we consider unpaid (WeChat: reverse; Alipay: cancel).
#pragma once

#include <functional>
#include <string>

#include "orderpay/providers/provider.hpp"

namespace orderpay::providers {

struct ScanResolve {
    int tries = 0;
    int interval_ms = 0;
    bool not_found_is_final = false;  // WeChat: ORDERNOTEXIST ends it; Alipay: cancel anyway
    std::function<QueryResult()> query;
    std::function<VoidResult()> void_trade;
    std::string void_name;              // "reversed", "cancelled": for the slip note
    std::function<void()> before_void;  // CreateParams::before_void, if set
};

CreateResult ResolveScan(const ScanResolve& r, const std::string& note);

/// Ends a scan trade that orderpay no longer waits for (expiry, a retired slip) by voiding it,
/// asked first: a paid trade is kept (already_paid: the caller settles it), an ended or unknown
/// one is not voided, an unpaid one is voided (`void_trade`, e.g. WeChat's reverse), which
/// closes it. An unclear answer closes nothing: the caller tries again later.
CloseResult EndScanByVoid(const std::function<QueryResult()>& query, const std::function<bool()>& void_trade,
                          const std::string& void_name);

}  // namespace orderpay::providers

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

}  // namespace orderpay::providers

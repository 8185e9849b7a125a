// The WeChat Pay API v3 endpoints paysim answers (PROTOCOLS.md §1.7): native, jsapi, codepay,
// query, close and reverse by out_trade_no, and /v3/certificates.
#pragma once

#include <string>

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

/// Every /v3/ path: authenticates the call, then dispatches on method and path.
http::Response Wx3Gateway(Ctx& ctx, const http::Request& req);

/// A trade as v3's Transaction object (query and codepay answers, the notification resource).
/// `amount_delta` and `app_id` exist for the tamper knobs.
std::string Wx3TransactionJson(const wx_store::Trade& t, std::int64_t amount_delta = 0,
                               const std::string* app_id = nullptr);

}  // namespace orderpay::sim

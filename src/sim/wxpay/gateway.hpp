// The WeChat Pay API v2 endpoints paysim answers, as the real gateway does (PROTOCOLS.md §1.2-§1.4).
#pragma once

#include "orderpay/http/request.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

http::Response WxUnifiedOrder(Ctx& ctx, const http::Request& req);  // POST /pay/unifiedorder
http::Response WxOrderQuery(Ctx& ctx, const http::Request& req);    // POST /pay/orderquery
http::Response WxCloseOrder(Ctx& ctx, const http::Request& req);    // POST /pay/closeorder
http::Response WxMicropay(Ctx& ctx, const http::Request& req);      // POST /pay/micropay
http::Response WxReverse(Ctx& ctx, const http::Request& req);       // POST /secapi/pay/reverse

}  // namespace orderpay::sim

// paysim's FastCGI application: the route table over the WeChat v2 and Alipay gateways and the
// /sim control API.
#pragma once

#include <memory>

#include "orderpay/fcgi/pool.hpp"
#include "sim/core/context.hpp"

namespace orderpay::sim {

/// Builds one worker's App (its own connection, prepared on first use). Never returns nullptr:
/// while the database is down every request gets a 503 and the worker keeps retrying.
std::unique_ptr<fcgi::App> MakeApp(const SimOptions& opts);

}  // namespace orderpay::sim

// GET /metrics: the Prometheus scrape. Served by whichever worker accepts it, from the region
// every worker writes into, so one scrape sees the whole pool.
#include "orderpay/core/metrics.hpp"

#include "orderpay/handlers/handlers.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/router.hpp"

namespace orderpay::handlers {

http::Response Metrics(const http::Request& req) {
    if (!(http::MethodBit(req.method) & http::kRead)) return http::MethodNotAllowed(http::kRead);
    if (!metrics::Enabled()) return http::Fail(http::Err::kNoSuchApi);
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics::Exposition();
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

}  // namespace orderpay::handlers

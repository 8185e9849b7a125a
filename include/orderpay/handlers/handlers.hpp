// The endpoint handlers, one per file under src/handlers/, and the dispatcher that routes to them.
#pragma once

#include "orderpay/app/context.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

http::Response Buy(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response Check(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response Pay(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response ReWx(app::Context& ctx, app::Call& call, const http::Request& req);
http::Response ReZfb(app::Context& ctx, app::Call& call, const http::Request& req);

/// Routes /api/{site}/pay/{action} (and /healthz): 404/405, site lookup, ticket check, then the
/// handler; database outages become 503 and anything unexpected 500.
http::Response Dispatch(app::Context& ctx, const http::Request& req);

}  // namespace orderpay::handlers

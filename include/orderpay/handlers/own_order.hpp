// The first step pay/check and pay/qr share: the caller's own order, read in one statement, or
// the reply that refuses it.
#pragma once

#include <variant>

#include "orderpay/app/context.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/request.hpp"
#include "orderpay/store/check_view.hpp"

namespace orderpay::handlers {

/// The order `id` of the ticket's buyer with its items and current slip, or the error reply:
/// the same answers, in the same order, as dispatch gives every other authenticated route (site,
/// account store, ticket, buyer's store), then the id; someone else's order is answered exactly
/// like a missing one, so its existence is never revealed.
std::variant<store::CheckView, http::Response> LoadOwnOrder(app::Context& ctx, const app::Call& call,
                                                            const http::Request& req);

}  // namespace orderpay::handlers

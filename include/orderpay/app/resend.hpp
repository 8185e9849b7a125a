// A slip its sender never sent: pay/buy (or pay/pay) committed the order's NEW slip and its
// worker died before the provider call. Nothing else sends a NEW slip, so the order would stay
// unpayable until it expired; the buy replayed with its Idempotency-Key, or the buyer's pay/check,
// sends it once its sender is certainly gone.
#pragma once

#include <optional>
#include <string>

#include "orderpay/app/context.hpp"
#include "orderpay/app/payflow.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/orders.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

struct Resent {
    // As SendSlip answered it: nullopt when the slip is out, or when another slip paid the
    // order meanwhile (answered as the paid order, never as a payment to try again).
    std::optional<http::Err> err;
    std::string order_json;  // the order as it now stands
};

/// Asks the provider about `slip`, then (still NEW) sends it, when it is the payable (NW or WT)
/// order's live NEW slip, no one has sent it for
/// settings().resend_after_ms, and its pay type needs nothing only the buyer can give again (a
/// scan's one-time code is never resent). Of concurrent callers one claims it; nullopt for the
/// others and whenever nothing was sent.
std::optional<Resent> ResendUnsent(Context& ctx, const store::OrderRecord& order, const store::SlipRow& slip,
                                   const PayInputs& in);

}  // namespace orderpay::app

// Notifications from a provider whose signature does not bind the whole message
// (SettlesOnOwnQuery, PayPal): each is a cue to ask the provider, and only its answer settles or
// fails the slip. Decide (notify.hpp) calls these for a verified event about one of our slips.
#pragma once

#include <string>

#include "orderpay/app/notify.hpp"

namespace orderpay::app {

/// Completes an approved payment at the provider, never for a slip that can no longer take
/// money; a completion whose outcome is unknown is answered kError, so it is sent again.
NotifyDecision Complete(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                        const std::string& row_id);

/// A buyer's return that approves nothing (PayPal's cancel): changes nothing, and its
/// found_status is the slip's state now (COMPLETED, CLOSED, or the return's own word while open).
NotifyDecision ReturnWithoutApproval(db::Connection& c, const NotifyEval& ev);

/// A "paid" settled on our query's capture, amount and currency; a message the provider's
/// records do not bear out is refused, one we could not check is answered kError.
NotifyDecision Confirm(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                       const std::string& row_id);

/// A "denied": the slip fails only when the provider's own record says the payment failed or
/// closed; a payment it says went through settles.
NotifyDecision ConfirmClosed(db::Connection& c, const providers::Provider& p, const NotifyEval& ev,
                             const std::string& row_id);

}  // namespace orderpay::app

// A paid slip's payment taken back by its provider (PayPal's PAYMENT.CAPTURE.REVERSED: a
// chargeback the buyer won). Decide (notify.hpp) calls this for a verified event about one of
// our slips from a provider whose word is only a cue (SettlesOnOwnQuery).
#pragma once

#include "orderpay/app/notify.hpp"

namespace orderpay::app {

/// Records a chargeback only when the provider's own record of the slip's payment says it was
/// reversed: then an error is logged, reconcile lists the slip CHARGEBACK and ship and done refuse
/// its order. Anything else changes nothing and goes with the inbox's unverified rows.
NotifyDecision ConfirmReversal(db::Connection& c, const providers::Provider& p, const NotifyEval& ev);

}  // namespace orderpay::app

// `orderpay order ship|done` and admin/ship, admin/done: one step of an order of goods towards
// the buyer (OK -> SP -> DN), and the words for what happened, shared by the CLI and the API.
#pragma once

#include <string>

#include "orderpay/db/connection.hpp"
#include "orderpay/store/fulfil.hpp"

namespace orderpay::app {

enum class FulfilOutcome {
    kMoved,    // this call shipped it / made it done
    kAlready,  // it was there already (a repeat after a timeout, or another operator first)
    kRefused,  // another state: unpaid, failed, refunded, virtual goods, not shipped yet, or its
               // whole payment being refunded
    kNoOrder,  // no such order in the site
};

struct FulfilAnswer {
    FulfilOutcome outcome = FulfilOutcome::kNoOrder;
    std::string message;   // one line naming the order and its state, said by the CLI and the API
    std::string cli_hint;  // the operator command that goes on, for the CLI to add: an API caller
                           // has no CLI (review s28-newuser #9)
};

/// What `row` (store::FulfilOrder's) means for the order `id`: pure, unit-tested.
FulfilAnswer DescribeFulfil(const std::string& id, store::FulfilStep step, const store::FulfilRow& row);

/// Ships the site's order (kShip), makes it done (kDone), or closes it after a chargeback
/// (kCloseChargedBack), and says what happened.
FulfilAnswer Fulfil(db::Connection& c, const std::string& site, const std::string& id,
                    store::FulfilStep step);

}  // namespace orderpay::app

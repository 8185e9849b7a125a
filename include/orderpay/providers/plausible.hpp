// Whether an id a provider gives can be stored, indexed and sent back (pure).
#pragma once

#include <string_view>

namespace orderpay::providers {

/// An id a provider gives (transaction, order, prepay, refund, event) that orderpay may store,
/// index and send back: 1 to 128 bytes of text without control characters. Every answer passes
/// this screen (providers/metered.cpp), and a notification's ids are checked with it before
/// anything is decided (app/notify.cpp).
bool PlausibleId(std::string_view id);

}  // namespace orderpay::providers

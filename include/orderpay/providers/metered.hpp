// Provider gateway calls with their count, outcome and duration recorded in the metrics
// (orderpay_provider_calls_total, orderpay_provider_call_duration_seconds). Every call the app
// makes to a provider goes through these.
#pragma once

#include <string_view>

#include "orderpay/providers/provider.hpp"

namespace orderpay::providers {

CreateResult MeteredCreate(Provider& p, const Merchant& m, const CreateParams& params);
/// The slip's own id, and the provider's id for it when it gave one (QueryByRef).
QueryResult MeteredQuery(Provider& p, const Merchant& m, const std::string& slip_id,
                         const std::string& provider_ref = "");
CloseResult MeteredClose(Provider& p, const Merchant& m, const std::string& slip_id);
RefundResult MeteredRefund(Provider& p, const Merchant& m, const RefundParams& params);
RefundResult MeteredQueryRefund(Provider& p, const Merchant& m, const RefundParams& params);

/// An id a provider gives (transaction, order, refund, event) that orderpay may store, index
/// and send back: 1 to 128 bytes of text without control characters. The answers above are
/// screened with it; a notification's ids are checked with it before anything is decided.
bool PlausibleId(std::string_view id);

}  // namespace orderpay::providers

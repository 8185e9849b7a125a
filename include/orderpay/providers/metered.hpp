// Provider gateway calls with their count, outcome and duration recorded in the metrics
// (orderpay_provider_calls_total, orderpay_provider_call_duration_seconds). Every call the app
// makes to a provider goes through these.
#pragma once

#include "orderpay/providers/provider.hpp"

namespace orderpay::providers {

CreateResult MeteredCreate(Provider& p, const Merchant& m, const CreateParams& params);
/// The slip's own id, and the provider's id for it when it gave one (QueryByRef).
QueryResult MeteredQuery(Provider& p, const Merchant& m, const std::string& slip_id,
                         const std::string& provider_ref = "");
/// Provider::Close, or Provider::EndScan for a scan payment's slip.
CloseResult MeteredClose(Provider& p, const Merchant& m, const std::string& slip_id, bool scan = false);
RefundResult MeteredRefund(Provider& p, const Merchant& m, const RefundParams& params);
RefundResult MeteredQueryRefund(Provider& p, const Merchant& m, const RefundParams& params);
/// The calls a notification prompts: completing an approval and confirming a payment count as
/// queries (they answer like one), confirming a refund as a refund query.
QueryResult MeteredComplete(const Provider& p, const Merchant& m, const std::string& slip_id,
                            const std::string& provider_ref);
QueryResult MeteredConfirmPaid(const Provider& p, const Merchant& m, const std::string& slip_id,
                               const std::string& provider_ref);
RefundResult MeteredConfirmRefund(const Provider& p, const Merchant& m, const RefundParams& params);

}  // namespace orderpay::providers

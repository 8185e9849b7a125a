// pay/buy's request body: the JSON fields it reads, checked and gathered into a BuyInput.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderpay/app/payflow.hpp"
#include "orderpay/domain/pricing.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

struct BuyInput {
    std::vector<domain::LineRequest> lines;
    std::string pay_tp, tp = "A", title, note, contact_json;
    std::optional<std::string> idempotency_key;  // the body's idempotency_key (or the header's)
    app::PayInputs pay;
};

/// Reads the body into `in`: nullopt when it is acceptable, else the error reply to send.
std::optional<http::Response> ParseInput(const http::Request& req, BuyInput& in);

}  // namespace orderpay::handlers

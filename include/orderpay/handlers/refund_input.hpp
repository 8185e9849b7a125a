// admin/refund's request body: the JSON fields it reads, checked and gathered into a RefundInput,
// and the refund amount in major units turned into minor units exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orderpay/domain/money.hpp"
#include "orderpay/http/request.hpp"

namespace orderpay::handlers {

/// The largest admin/refund body: a few short fields.
inline constexpr std::size_t kMaxRefundBody = 4096;
/// A refund reason is shown to the buyer by some providers (WeChat refund_desc: 80 characters).
inline constexpr std::size_t kMaxReasonChars = 80;

struct RefundInput {
    // Exactly one of the two: the order whose payment is refunded, or a refund_needed slip (a
    // late or double payment the order does not count), which is refunded in full.
    std::string order;
    std::string slip;
    std::optional<std::string>
        amount;  // as given ("7.50", or a JSON number's shortest text); nullopt: the rest
    std::string reason;
    std::string idempotency_key;
};

/// Reads the body into `in`: nullopt when it is acceptable, else the error reply to send.
std::optional<http::Response> ParseRefundInput(const http::Request& req, RefundInput& in);

/// A refund amount in major units ("7.50", "7.5", "8") as minor units with `exponent` decimals:
/// nullopt unless it is a plain positive decimal with at most `exponent` decimals.
std::optional<domain::Minor> RefundAmount(std::string_view text, int exponent);

/// A reason (or an operator's note): 1 to kMaxReasonChars characters of plain UTF-8 text
/// (http::IsPlainText) that is not blank (http::IsBlank).
bool ValidReason(std::string_view reason);
/// What is wrong with `reason` for ValidReason, in words for its sender; "" when nothing.
std::string ReasonProblem(std::string_view reason);

/// An idempotency key: 1 to 128 printable ASCII characters.
bool ValidIdempotencyKey(std::string_view key);

}  // namespace orderpay::handlers

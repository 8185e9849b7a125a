// Shapes of the ids orderpay issues, so a request naming an id that cannot exist is answered
// without a database round trip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace orderpay::domain {

/// True when `id` could be an order id: ^[a-z0-9]{1,32}$ (crypto::RandomId's alphabet, and at
/// most 32 characters because ids are the providers' out_trade_no).
bool IsOrderId(std::string_view id);

/// True when `id` could be a buyer account's id: ^[A-Za-z0-9_.@-]{1,64}$ (accounts.id's CHECK,
/// which `orderpay account add` has always been held to).
bool IsAccountId(std::string_view id);

/// True when `id` could be a store's, site's, product's or merchant's: ^[A-Za-z0-9_.-]{1,64}$
/// (their CHECKs in sql/001_init.sql).
bool IsSetupId(std::string_view id);

/// `s` as a whole number when it is 1 to `max_digits` ASCII digits and nothing else (no sign,
/// blank or exponent): the shape of a count in a query string.
std::optional<std::int64_t> ParseDigits(std::string_view s, std::size_t max_digits);

}  // namespace orderpay::domain

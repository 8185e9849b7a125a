// Money as integer minor units: parsing and formatting decimal strings exactly, checked arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderpay::domain {

using Minor = std::int64_t;

/// Number of decimals of an ISO-4217 currency this service handles ("CNY", "USD", "EUR", "HKD",
/// "GBP" -> 2; "JPY", "KRW" -> 0). nullopt for a currency we do not support.
std::optional<int> CurrencyExponent(std::string_view currency);

/// Parses a plain decimal string ("12", "0.01", "321.5") into minor units with `exponent`
/// decimals, exactly. Rejects: empty, sign characters, more decimals than `exponent`, leading
/// or trailing spaces, exponents, more than 15 integer digits, anything but [0-9.].
std::optional<Minor> ParseDecimal(std::string_view text, int exponent);

/// Formats minor units with exactly `exponent` decimals: (32156, 2) -> "321.56", (1, 2) -> "0.01",
/// (5, 0) -> "5", (-150, 2) -> "-1.50".
std::string FormatDecimal(Minor value, int exponent);

/// Minor units in `currency`'s decimals, as an operator types them (--price, --amount): (1250,
/// "CNY") -> "12.50", (1250, "JPY") -> "1250". A currency we do not support is taken as 2 decimals.
std::string FormatAmount(Minor value, std::string_view currency);

/// Checked arithmetic: nullopt on overflow.
std::optional<Minor> CheckedAdd(Minor a, Minor b);
std::optional<Minor> CheckedMul(Minor a, Minor b);

}  // namespace orderpay::domain

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

/// Longest amount text a provider may send: 19 digits (int64), a point and 20 decimals.
inline constexpr std::size_t kMaxProviderAmountChars = 40;

/// An amount a provider sends (Alipay's total_amount, WeChat v2's total_fee, PayPal's value),
/// read by its exact value in minor units with `exponent` decimals: ASCII digits, then optionally
/// '.' and at least one digit. Leading zeros and zeros past `exponent` decimals are the same
/// value ("25.000" and "0025" are 2500 at exponent 2); a non-zero digit past them is not a
/// number of minor units ("25.001"). Refused: empty, signs, exponents, blanks, ".5", "5.", any
/// other byte, more than kMaxProviderAmountChars bytes, a value past int64.
std::optional<Minor> ParseProviderAmount(std::string_view text, int exponent);

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

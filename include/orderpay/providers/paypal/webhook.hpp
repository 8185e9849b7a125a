// PayPal's pure rules, kept apart so they are tested on their own: the currency precision
// table, and webhook verification option A (PROTOCOLS.md §3.3): CRC32 of the raw body, the
// signed string, the certificate URL allowlist and the leaf CN rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderpay::paypal {

/// Decimals PayPal takes for a currency it supports (JPY, HUF, TWD: 0), nullopt when it does
/// not take the currency.
std::optional<int> PaypalDecimals(std::string_view currency);

/// Our minor units (the currency's ISO exponent) as PayPal's decimal string; nullopt when the
/// currency is not PayPal's or the amount has a fraction PayPal cannot charge.
std::optional<std::string> FormatAmount(std::int64_t minor, std::string_view currency);

/// PayPal's decimal string back to our minor units, exactly; nullopt when it does not parse.
std::optional<std::int64_t> ParseAmount(std::string_view value, std::string_view currency);

/// CRC32 (IEEE 802.3, as java.util.zip.CRC32) of `data`.
std::uint32_t Crc32(std::string_view data);

/// transmission_id|transmission_time|webhook_id|crc32(body) with the CRC as unsigned decimal.
std::string SignedString(std::string_view transmission_id, std::string_view transmission_time,
                         std::string_view webhook_id, std::string_view body);

/// The certificate URL is HTTPS and its authority is exactly one of `hosts` (a port only when
/// the entry names it; never user info); otherwise false with `why`.
bool CertUrlAllowed(std::string_view url, const std::vector<std::string>& hosts, std::string& why);

/// The leaf CN starts with `prefix` and ends with `suffix` (messageverificationcerts ...
/// .paypal.com).
bool CnAllowed(std::string_view cn, std::string_view prefix, std::string_view suffix);

}  // namespace orderpay::paypal

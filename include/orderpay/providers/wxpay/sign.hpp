// WeChat Pay API v2 signatures (PROTOCOLS.md §1.2): MD5 and HMAC-SHA256 over sorted fields.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace orderpay::wxpay {

enum class SignType { kMd5, kHmacSha256 };

/// "MD5" / "HMAC-SHA256" (exact, as WeChat spells them).
std::optional<SignType> ParseSignType(std::string_view text);
std::string_view ToString(SignType t);

/// stringSignTemp: every field except "sign" whose value is non-empty, sorted by name (byte
/// order), joined "k=v&..", then "&key=<api_key>". Values are used exactly, not trimmed.
std::string SignString(const std::map<std::string, std::string>& fields, std::string_view api_key);

/// Upper-case hex MD5 or HMAC-SHA256 (key = api_key) of SignString.
std::string Sign(const std::map<std::string, std::string>& fields, std::string_view api_key, SignType type);

/// True only when "sign" is present and non-empty and equals Sign(...) ignoring case, compared
/// in constant time. A missing or empty sign is a failure, never a bypass.
bool Verify(const std::map<std::string, std::string>& fields, std::string_view api_key, SignType type);

}  // namespace orderpay::wxpay

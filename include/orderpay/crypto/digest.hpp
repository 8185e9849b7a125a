// Digests, HMAC, constant-time comparison, base64 and random ids. OpenSSL is used only here.
#pragma once

#include <string>
#include <string_view>

namespace orderpay::crypto {

/// Raw digest bytes.
std::string Md5(std::string_view data);
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

/// Hex of raw bytes.
std::string HexLower(std::string_view bytes);
std::string HexUpper(std::string_view bytes);

/// True when a and b are equal ignoring ASCII case, compared in constant time for equal lengths
/// (CRYPTO_memcmp over case-folded copies). Different lengths are unequal. Empty never equals.
bool EqualsIgnoreCaseConstTime(std::string_view a, std::string_view b);

/// Standard base64 (with padding). Decode rejects bad characters and bad padding (nullopt-like:
/// returns false). Whitespace is not accepted.
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string& out);

/// Random URL-safe id of `len` characters from [0-9a-z] (RAND_bytes, rejection sampled so
/// every character is uniform). Used for order and slip ids (providers' out_trade_no).
std::string RandomId(std::size_t len);

/// Runs OpenSSL's one-time work (provider loading, algorithm fetch caches, the random generator)
/// in the calling process. orderpayd's master calls it before forking, so workers share the
/// result and never execute that code themselves (smaller resident sets, faster first request).
void WarmUp();

/// Random secret token: `bytes` random bytes as base64url without padding (tickets).
std::string RandomToken(std::size_t bytes);

}  // namespace orderpay::crypto

// Query-string and application/x-www-form-urlencoded decoding and encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderpay::http {

using FormPairs = std::vector<std::pair<std::string, std::string>>;

/// Decodes %XX escapes (either hex case); `plus_is_space` turns '+' into ' '. A '%' not followed
/// by two hex digits is an error (nullopt). Decoded bytes are returned as they are (may be GBK).
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

/// Splits "a=1&b=2" into decoded pairs in order ('+' is a space). Empty segments ("a=1&&b=2")
/// are skipped; a segment without '=' is a name with an empty value. nullopt on a malformed
/// escape, or when there are more than `max_pairs` pairs.
std::optional<FormPairs> ParseForm(std::string_view text, std::size_t max_pairs = 256);

/// First value of `name`, or nullopt.
std::optional<std::string> FormValue(const FormPairs& pairs, std::string_view name);

/// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) stay, everything
/// else becomes %XX (upper-case hex). Used for form bodies and query strings we send.
/// `space_as_plus` writes a space as '+' instead (so '+' itself travels as %2B), the way
/// Alipay's servers and Python's quote_plus write forms.
std::string PercentEncode(std::string_view bytes, bool space_as_plus = false);

/// "k1=v1&k2=v2" with both sides percent-encoded, in the given order.
std::string EncodeForm(const FormPairs& pairs, bool space_as_plus = false);

}  // namespace orderpay::http

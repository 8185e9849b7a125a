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

/// At most this many arguments in a query string or a form (more: refused, never cut).
inline constexpr std::size_t kMaxFormPairs = 256;

/// Splits "a=1&b=2" into decoded pairs in order ('+' is a space). Empty segments ("a=1&&b=2")
/// are skipped; a segment without '=' is a name with an empty value. nullopt on a malformed
/// escape, or when there are more than `max_pairs` pairs.
std::optional<FormPairs> ParseForm(std::string_view text, std::size_t max_pairs = kMaxFormPairs);

/// The first decoded name that occurs more than once in `pairs` ("i%64=A&id=B" repeats "id";
/// "ID" is another name), or nullopt.
std::optional<std::string> RepeatedName(const FormPairs& pairs);

/// A query string whose arguments are read by name: ParseForm's pairs, refused (nullopt, with
/// `error` saying why and naming the argument) also when an argument has no name ("=x") or a
/// name is given twice, so no reader takes one copy while another (a log, a cache, a proxy, a
/// signature) took the other. Empty segments ("a=1&&b=2", a trailing '&') are no arguments.
std::optional<FormPairs> ParseQuery(std::string_view text, std::string& error,
                                    std::size_t max_pairs = kMaxFormPairs);

/// `name` for a message: printable ASCII as it is, any other byte as \xNN, cut to 40 bytes
/// (marked "..."), in double quotes.
std::string QuotedName(std::string_view name);

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

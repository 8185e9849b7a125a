// UTF-8 validation of text from outside before it reaches PostgreSQL (which refuses invalid
// UTF-8 and NUL in text values) or a C string (which a NUL silently cuts short).
#pragma once

#include <string_view>

namespace orderpay::http {

/// True when `s` is well-formed UTF-8 (RFC 3629, Unicode table 3-7): no overlong forms, no
/// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray or missing continuation byte.
bool IsUtf8(std::string_view s);

/// IsUtf8 and no NUL byte: text a PostgreSQL text column and a C string both keep unchanged.
bool IsText(std::string_view s);

}  // namespace orderpay::http

// UTF-8 validation of text from outside before it reaches PostgreSQL (which refuses invalid
// UTF-8 and NUL in text values) or a C string (which a NUL silently cuts short).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace orderpay::http {

/// True when `s` is well-formed UTF-8 (RFC 3629, Unicode table 3-7): no overlong forms, no
/// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray or missing continuation byte.
bool IsUtf8(std::string_view s);

/// IsUtf8 and no NUL byte: text a PostgreSQL text column and a C string both keep unchanged.
bool IsText(std::string_view s);

/// The characters in UTF-8 text (the bytes that do not continue one), as providers count their
/// field lengths.
std::size_t Utf8Chars(std::string_view s);

/// Text for a provider's length-limited field (an order title as WeChat's body/description):
/// byte sequences that are not a UTF-8 character are dropped, control characters and U+FFFE/U+FFFF
/// (which XML and the providers' pages cannot carry faithfully) become spaces, and the result is cut to at
/// most `max_bytes` on a character boundary, so a multi-byte character is never split.
std::string FitUtf8(std::string_view text, std::size_t max_bytes);

/// Outside text for a text column that must always take it (a verdict's reason, a note quoting a
/// provider's answer): kept as it is when it is text (IsText), else every byte outside printable
/// ASCII written as "\xNN", so the write cannot fail and the evidence survives; then cut to at
/// most `max_bytes` on a character boundary.
std::string TextOrEscaped(std::string_view text, std::size_t max_bytes);

/// IsUtf8, and text a person reads as it is written: no control character (C0, DEL, C1), no
/// bidi control, zero-width or invisible character, no line or paragraph separator, no
/// non-character. For the free text an operator or a shop gives (a refund's reason, a note).
bool IsPlainText(std::string_view s);

/// True when `s` (UTF-8) shows nothing: only spaces of any script, invisible characters and
/// controls, or nothing at all.
bool IsBlank(std::string_view s);

/// Appends the UTF-8 bytes of code point `cp` (at most U+10FFFF; the caller checks that it is a
/// character it may write, e.g. not a surrogate).
void AppendUtf8(std::string& out, char32_t cp);

/// `a` and `b` are the same bytes but for the case of ASCII letters (a name from outside compared
/// with one we know: a media type, a charset, an XML declaration's words).
bool EqualsAsciiNoCase(std::string_view a, std::string_view b);

}  // namespace orderpay::http

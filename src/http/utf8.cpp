// A strict UTF-8 validator following the well-formed byte sequences of Unicode table 3-7.
#include "orderpay/http/utf8.hpp"

#include <algorithm>

namespace orderpay::http {

namespace {

bool Cont(unsigned char c, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return c >= lo && c <= hi;
}

// The code points of text already checked by IsUtf8, one by one.
template <typename Fn>
bool AllCodePoints(std::string_view s, Fn&& fn) {
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        if (!fn(cp)) return false;
        i += len;
    }
    return true;
}

// Characters that change how the text around them is shown, or show as nothing: bidi controls
// (a reason reading one way in a log and another in the shop's page), zero-width and invisible
// ones, line and paragraph separators, and non-characters.
bool Invisible(char32_t cp) {
    return cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) || cp == 0xFFFE ||
           cp == 0xFFFF;
}

bool Space(char32_t cp) {
    return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

}  // namespace

bool IsUtf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        // The second byte's range is what excludes overlongs (E0, F0), surrogates (ED) and
        // code points above U+10FFFF (F4); C0, C1 and F5..FF never start a sequence.
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (n - i < len) return false;  // truncated at the end
        if (!Cont(p[i + 1], lo, hi)) return false;
        for (std::size_t k = 2; k < len; ++k)
            if (!Cont(p[i + k])) return false;
        i += len;
    }
    return true;
}

bool IsText(std::string_view s) {
    return s.find('\0') == std::string_view::npos && IsUtf8(s);
}

std::size_t Utf8Chars(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string FitUtf8(std::string_view text, std::size_t max_bytes) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const std::size_t len = c < 0x80         ? 1
                                : (c >> 5) == 6  ? 2
                                : (c >> 4) == 14 ? 3
                                : (c >> 3) == 30 ? 4
                                                 : 0;
        // IsUtf8 on the one character also refuses overlong forms, surrogates and > U+10FFFF.
        if (len == 0 || i + len > text.size() || !IsUtf8(text.substr(i, len))) {
            ++i;
            continue;
        }
        if (out.size() + len > max_bytes) break;
        // U+FFFE and U+FFFF are UTF-8 but not XML characters (XML 1.0 Char): WeChat v2's XML
        // body could not carry them, and building it threw after the order was committed.
        const bool non_xml = len == 3 && c == 0xEF && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
                             static_cast<unsigned char>(text[i + 2]) >= 0xBE;
        if ((len == 1 && (c < 0x20 || c == 0x7f)) || non_xml)
            out += ' ';
        else
            out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

std::string TextOrEscaped(std::string_view text, std::size_t max_bytes) {
    std::string out;
    if (IsText(text)) {
        std::size_t n = std::min(text.size(), max_bytes);
        // Back off to the start of a character: a cut continuation byte would make it non-text.
        while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
        out.assign(text.substr(0, n));
        return out;
    }
    static const char kHex[] = "0123456789abcdef";
    for (unsigned char c : text) {
        const bool plain = c >= 0x20 && c < 0x7f;
        if (out.size() + (plain ? 1 : 4) > max_bytes) break;
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

bool IsPlainText(std::string_view s) {
    return IsUtf8(s) && AllCodePoints(s, [](char32_t cp) {
               return cp >= 0x20 && !(cp >= 0x7F && cp <= 0x9F) && !Invisible(cp);
           });
}

bool IsBlank(std::string_view s) {
    return AllCodePoints(s, [](char32_t cp) { return Space(cp) || Invisible(cp) || cp < 0x20; });
}

void AppendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool EqualsAsciiNoCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

}  // namespace orderpay::http

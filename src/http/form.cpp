// Percent-decoding and form parsing over raw bytes: values stay bytes (UTF-8 or GBK) for signing.
#include "orderpay/http/form.hpp"

#include <utility>

namespace orderpay::http {

namespace {

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool IsUnreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
            const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
            // Guessing at a broken escape would make us sign different bytes than the sender.
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi << 4 | lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

namespace {

// ParseForm with the reason for a refusal.
std::optional<FormPairs> Split(std::string_view text, std::size_t max_pairs, std::string& error) {
    FormPairs pairs;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('&', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view segment = text.substr(start, end - start);
        start = end + 1;
        if (segment.empty()) continue;
        if (pairs.size() == max_pairs) {
            error = "more than " + std::to_string(max_pairs) + " arguments";
            return std::nullopt;
        }

        const std::size_t eq = segment.find('=');
        const std::string_view raw_name = segment.substr(0, eq);
        const std::string_view raw_value =
            eq == std::string_view::npos ? std::string_view{} : segment.substr(eq + 1);
        auto name = PercentDecode(raw_name, true);
        auto value = PercentDecode(raw_value, true);
        if (!name || !value) {
            error = "a '%' is not followed by two hex digits";
            return std::nullopt;
        }
        pairs.emplace_back(std::move(*name), std::move(*value));
    }
    return pairs;
}

}  // namespace

std::optional<FormPairs> ParseForm(std::string_view text, std::size_t max_pairs) {
    std::string ignored;
    return Split(text, max_pairs, ignored);
}

std::optional<std::string> RepeatedName(const FormPairs& pairs) {
    // Quadratic, but over at most kMaxFormPairs short names, and it reports the first repeat
    // in arrival order, which a sorted copy would not.
    for (std::size_t i = 0; i < pairs.size(); ++i)
        for (std::size_t j = i + 1; j < pairs.size(); ++j)
            if (pairs[i].first == pairs[j].first) return pairs[i].first;
    return std::nullopt;
}

std::optional<FormPairs> ParseQuery(std::string_view text, std::string& error, std::size_t max_pairs) {
    std::optional<FormPairs> pairs = Split(text, max_pairs, error);
    if (!pairs) return std::nullopt;
    for (const auto& [name, value] : *pairs) {
        if (name.empty()) {
            error = "an argument has no name";
            return std::nullopt;
        }
    }
    if (std::optional<std::string> twice = RepeatedName(*pairs)) {
        error = "argument " + QuotedName(*twice) + " is given more than once";
        return std::nullopt;
    }
    return pairs;
}

std::string QuotedName(std::string_view name) {
    static constexpr char kHex[] = "0123456789abcdef";
    constexpr std::size_t kShown = 40;
    std::string out = "\"";
    for (unsigned char c : name.substr(0, kShown)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0f]);
        }
    }
    if (name.size() > kShown) out += "...";
    out.push_back('"');
    return out;
}

std::optional<std::string> FormValue(const FormPairs& pairs, std::string_view name) {
    for (const auto& [k, v] : pairs)
        if (k == name) return v;
    return std::nullopt;
}

std::string PercentEncode(std::string_view bytes, bool space_as_plus) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size() * 3);
    for (unsigned char c : bytes) {
        if (IsUnreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else if (c == ' ' && space_as_plus) {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0f]);
        }
    }
    return out;
}

std::string EncodeForm(const FormPairs& pairs, bool space_as_plus) {
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) out.push_back('&');
        out += PercentEncode(k, space_as_plus);
        out.push_back('=');
        out += PercentEncode(v, space_as_plus);
    }
    return out;
}

}  // namespace orderpay::http

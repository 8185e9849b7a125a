// Fuzz target: decimal money (domain::ParseDecimal / FormatDecimal, checked arithmetic): what
// parses formats back to an equal value, and parsing agrees with a 128-bit reference.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "fuzz_check.hpp"
#include "orderpay/domain/money.hpp"

namespace {

using namespace orderpay;
using domain::Minor;

constexpr Minor kMax = std::numeric_limits<Minor>::max();
constexpr Minor kMin = std::numeric_limits<Minor>::min();

bool Digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// The documented grammar, and the value in 128 bits (15 digits times 10^18 fits easily).
struct Reference {
    bool syntax = false;
    __int128 value = 0;
    std::string canonical;  // leading zeros dropped, fraction padded to `exponent` digits
};

Reference Expect(std::string_view text, int exponent) {
    Reference r;
    if (exponent < 0 || exponent > 18) return r;
    const std::size_t dot = text.find('.');
    const std::string_view int_part = text.substr(0, dot);
    const std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    if (int_part.empty() || int_part.size() > 15 || !Digits(int_part)) return r;
    if (dot != std::string_view::npos && (frac.empty() || !Digits(frac))) return r;
    if (frac.size() > static_cast<std::size_t>(exponent)) return r;
    r.syntax = true;
    std::string digits(int_part);
    digits += frac;
    digits.append(static_cast<std::size_t>(exponent) - frac.size(), '0');
    for (char c : digits) r.value = r.value * 10 + (c - '0');

    std::size_t lead = 0;
    while (lead + 1 < int_part.size() && int_part[lead] == '0') ++lead;
    r.canonical = std::string(int_part.substr(lead));
    if (exponent > 0) {
        r.canonical += '.';
        r.canonical += frac;
        r.canonical.append(static_cast<std::size_t>(exponent) - frac.size(), '0');
    }
    return r;
}

void CheckText(std::string_view text, int exponent) {
    const std::optional<Minor> v = domain::ParseDecimal(text, exponent);
    const Reference ref = Expect(text, exponent);
    FUZZ_CHECK(v.has_value() == (ref.syntax && ref.value <= kMax));
    if (!v) return;
    FUZZ_CHECK(*v == ref.value);
    const std::string formatted = domain::FormatDecimal(*v, exponent);
    FUZZ_CHECK(formatted == ref.canonical);
    FUZZ_CHECK(domain::ParseDecimal(formatted, exponent) == v);
}

void CheckValue(Minor v, int exponent) {
    const std::string s = domain::FormatDecimal(v, exponent);
    const std::size_t dot = s.find('.');
    FUZZ_CHECK(exponent > 0 ? dot != std::string::npos && s.size() - dot - 1 == std::size_t(exponent)
                            : dot == std::string::npos);
    if (v < 0) {
        FUZZ_CHECK(s[0] == '-' && !domain::ParseDecimal(s, exponent));
        if (v != kMin) FUZZ_CHECK(s.substr(1) == domain::FormatDecimal(-v, exponent));
        return;
    }
    if (exponent < 0 || exponent > 18) return;
    // Non-negative values parse back unless they need more than 15 integer digits.
    __int128 scale = 1;
    for (int i = 0; i < exponent; ++i) scale *= 10;
    const bool fits = v / scale < 1'000'000'000'000'000;
    FUZZ_CHECK(domain::ParseDecimal(s, exponent) == (fits ? std::optional<Minor>(v) : std::nullopt));
}

void CheckArithmetic(Minor a, Minor b) {
    const __int128 sum = static_cast<__int128>(a) + b;
    const __int128 product = static_cast<__int128>(a) * b;
    const auto in_range = [](__int128 x) { return x >= kMin && x <= kMax; };
    FUZZ_CHECK(domain::CheckedAdd(a, b) == (in_range(sum) ? std::optional<Minor>(Minor(sum)) : std::nullopt));
    FUZZ_CHECK(domain::CheckedMul(a, b) ==
               (in_range(product) ? std::optional<Minor>(Minor(product)) : std::nullopt));
}

}  // namespace

// Byte 0 picks the exponent (-1 to 19, so both out-of-range values are tried); the rest is the
// text. The same bytes are read as two int64s for formatting and arithmetic.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int exponent = data[0] % 21 - 1;
    const std::string_view text = fuzz::AsText(data + 1, size - 1);
    CheckText(text, exponent);
    for (const char* currency : {"CNY", "JPY"}) {
        const std::optional<int> e = domain::CurrencyExponent(currency);
        FUZZ_CHECK(e);
        CheckText(text, *e);
    }

    Minor a = 0;
    Minor b = 0;
    std::memcpy(&a, text.data(), std::min(text.size(), sizeof a));
    if (text.size() > sizeof a)
        std::memcpy(&b, text.data() + sizeof a, std::min(text.size() - sizeof a, sizeof b));
    CheckValue(a, exponent);
    CheckValue(b, exponent % 3);
    CheckArithmetic(a, b);
    return 0;
}

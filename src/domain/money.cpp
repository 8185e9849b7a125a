// Money as int64 minor units: exact decimal parsing/formatting and overflow-checked arithmetic.
#include "orderpay/domain/money.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace orderpay::domain {

namespace {

struct CurrencyInfo {
    std::string_view code;
    int exponent;
};

// Only currencies the service can actually charge in; anything else is refused up front
// rather than guessed, because a wrong exponent scales the charge by a power of ten.
constexpr std::array<CurrencyInfo, 7> kCurrencies = {{
    {"CNY", 2},
    {"USD", 2},
    {"EUR", 2},
    {"HKD", 2},
    {"GBP", 2},
    {"JPY", 0},
    {"KRW", 0},
}};

constexpr std::size_t kMaxIntegerDigits = 15;
// 10^18 still fits in int64; a larger exponent cannot represent even 1 major unit.
constexpr int kMaxExponent = 18;

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

bool AllDigits(std::string_view s) {
    for (char c : s)
        if (!IsDigit(c)) return false;
    return true;
}

}  // namespace

std::optional<int> CurrencyExponent(std::string_view currency) {
    for (const auto& c : kCurrencies)
        if (c.code == currency) return c.exponent;
    return std::nullopt;
}

std::optional<Minor> ParseDecimal(std::string_view text, int exponent) {
    if (exponent < 0 || exponent > kMaxExponent) return std::nullopt;

    std::string_view int_part = text;
    std::string_view frac_part;
    const auto dot = text.find('.');
    if (dot != std::string_view::npos) {
        int_part = text.substr(0, dot);
        frac_part = text.substr(dot + 1);
        // "5." and ".5" are not plain decimals; a provider that sends them is misbehaving.
        if (frac_part.empty()) return std::nullopt;
    }
    if (int_part.empty() || int_part.size() > kMaxIntegerDigits) return std::nullopt;
    if (!AllDigits(int_part) || !AllDigits(frac_part)) return std::nullopt;
    if (frac_part.size() > static_cast<std::size_t>(exponent)) return std::nullopt;

    Minor value = 0;
    for (char c : int_part) {
        auto next = CheckedMul(value, 10);
        if (next) next = CheckedAdd(*next, c - '0');
        if (!next) return std::nullopt;
        value = *next;
    }
    // Scale by the full exponent, consuming fraction digits first and zeros after them.
    for (int i = 0; i < exponent; ++i) {
        const int digit = static_cast<std::size_t>(i) < frac_part.size() ? frac_part[i] - '0' : 0;
        auto next = CheckedMul(value, 10);
        if (next) next = CheckedAdd(*next, digit);
        if (!next) return std::nullopt;
        value = *next;
    }
    return value;
}

std::optional<Minor> ParseProviderAmount(std::string_view text, int exponent) {
    if (exponent < 0 || exponent > kMaxExponent || text.size() > kMaxProviderAmountChars) return std::nullopt;
    std::string_view int_part = text;
    std::string_view frac_part;
    if (const auto dot = text.find('.'); dot != std::string_view::npos) {
        int_part = text.substr(0, dot);
        frac_part = text.substr(dot + 1);
        if (frac_part.empty()) return std::nullopt;
    }
    if (int_part.empty() || !AllDigits(int_part) || !AllDigits(frac_part)) return std::nullopt;
    // The same value written with more decimals than the currency has: only zeros may follow.
    const std::size_t kept = std::min(frac_part.size(), static_cast<std::size_t>(exponent));
    if (frac_part.find_first_not_of('0', kept) != std::string_view::npos) return std::nullopt;

    Minor value = 0;
    auto push = [&value](int digit) {
        std::optional<Minor> next = CheckedMul(value, 10);
        if (next) next = CheckedAdd(*next, digit);
        if (next) value = *next;
        return next.has_value();
    };
    for (char c : int_part)
        if (!push(c - '0')) return std::nullopt;
    for (int i = 0; i < exponent; ++i)
        if (!push(static_cast<std::size_t>(i) < frac_part.size() ? frac_part[i] - '0' : 0))
            return std::nullopt;
    return value;
}

std::string FormatAmount(Minor value, std::string_view currency) {
    return FormatDecimal(value, CurrencyExponent(currency).value_or(2));
}

std::string FormatDecimal(Minor value, int exponent) {
    // Work on the unsigned magnitude so INT64_MIN formats instead of overflowing on negation.
    const bool negative = value < 0;
    std::uint64_t mag = negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);

    std::string digits;
    do {
        digits.insert(digits.begin(), static_cast<char>('0' + mag % 10));
        mag /= 10;
    } while (mag != 0);

    const std::size_t decimals = exponent > 0 ? static_cast<std::size_t>(exponent) : 0;
    if (digits.size() <= decimals) digits.insert(0, decimals - digits.size() + 1, '0');
    if (decimals > 0) digits.insert(digits.size() - decimals, 1, '.');
    if (negative) digits.insert(digits.begin(), '-');
    return digits;
}

std::optional<Minor> CheckedAdd(Minor a, Minor b) {
    Minor r = 0;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}

std::optional<Minor> CheckedMul(Minor a, Minor b) {
    Minor r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

}  // namespace orderpay::domain

// What the scan test-code tables (wxpay/scan, alipay/scan) share: like test card numbers, the
// first three digits of a well-formed auth_code pick the row that decides the payment's outcome.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace orderpay::sim {

template <class Behaviour>
struct ScanRow {
    std::string_view prefix;  // the auth_code's first three digits
    Behaviour behaviour;
};

/// True when `s` is `min_len` to `max_len` ASCII digits.
constexpr bool AllDigits(std::string_view s, std::size_t min_len, std::size_t max_len) {
    if (s.size() < min_len || s.size() > max_len) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// The behaviour of the row whose prefix starts `auth_code` when it is `min_len` to `max_len`
/// ASCII digits; `invalid` for any other code.
template <class Behaviour, std::size_t N>
constexpr const Behaviour& PickScan(std::string_view auth_code, std::size_t min_len, std::size_t max_len,
                                    const std::array<ScanRow<Behaviour>, N>& rows, const Behaviour& invalid) {
    if (!AllDigits(auth_code, min_len, max_len)) return invalid;
    for (const ScanRow<Behaviour>& r : rows)
        if (auth_code.substr(0, r.prefix.size()) == r.prefix) return r.behaviour;
    return invalid;
}

}  // namespace orderpay::sim

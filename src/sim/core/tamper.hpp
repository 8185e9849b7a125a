// What /sim/pay's tamper knobs (wxpay/tamper, alipay/tamper) share: each provider names its
// forgeries in a table, and the "tamper" argument is read against it.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/http/form.hpp"

namespace orderpay::sim {

template <class Tamper>
struct TamperName {
    std::string_view name;  // as /sim/pay's tamper= spells it
    Tamper value;
};

/// The tamper `text` names in `names`: "" is Tamper::kNone; nullopt for any other text.
template <class Tamper, std::size_t N>
constexpr std::optional<Tamper> FindTamper(std::string_view text,
                                           const std::array<TamperName<Tamper>, N>& names) {
    if (text.empty()) return Tamper::kNone;
    for (const TamperName<Tamper>& n : names)
        if (n.name == text) return n.value;
    return std::nullopt;
}

/// Reads the form's "tamper" into `out`. Returns "" when it is absent or known, else a message
/// that lists the known names ("tamper must be one of sign, amount, ...").
template <class Tamper, std::size_t N>
std::string ReadTamperArg(const http::FormPairs& form, const std::array<TamperName<Tamper>, N>& names,
                          Tamper& out) {
    if (std::optional<Tamper> t = FindTamper(http::FormValue(form, "tamper").value_or(""), names)) {
        out = *t;
        return {};
    }
    std::string msg = "tamper must be one of ";
    for (std::size_t i = 0; i < N; ++i) {
        if (i > 0) msg += ", ";
        msg += names[i].name;
    }
    return msg;
}

}  // namespace orderpay::sim

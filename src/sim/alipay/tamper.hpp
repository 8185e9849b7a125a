// Fault knobs of /sim/pay for Alipay: ways to spoil a signed notification, as pure functions.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"
#include "sim/alipay/notify.hpp"
#include "sim/core/tamper.hpp"

namespace orderpay::sim {

enum class ZfbTamper {
    kNone,
    kSign,            // one character of sign changed (still valid base64, a different signature)
    kAmount,          // total_amount + 0.01, original sign kept (signature no longer verifies)
    kAmountResigned,  // total_amount + 0.01, signed again with the Alipay key (valid sign, wrong amount)
    kAppId,           // another app_id, signed again
    kSellerId,        // another seller_id, signed again
};

/// The names /sim/pay's tamper= takes for an Alipay trade.
inline constexpr std::array kZfbTamperNames = {
    TamperName<ZfbTamper>{"sign", ZfbTamper::kSign},
    TamperName<ZfbTamper>{"amount", ZfbTamper::kAmount},
    TamperName<ZfbTamper>{"amount_resigned", ZfbTamper::kAmountResigned},
    TamperName<ZfbTamper>{"app_id", ZfbTamper::kAppId},
    TamperName<ZfbTamper>{"seller_id", ZfbTamper::kSellerId},
};

/// "" -> kNone, or a name of kZfbTamperNames; nullopt for others.
inline std::optional<ZfbTamper> ParseZfbTamper(std::string_view text) {
    return FindTamper(text, kZfbTamperNames);
}

/// Applies `t` to signed notification parameters; `alipay_key` is used by the re-signing tampers.
void TamperZfbParams(ZfbParams& params, ZfbTamper t, const crypto::PKey& alipay_key);

}  // namespace orderpay::sim

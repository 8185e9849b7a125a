// Fault knobs of /sim/pay for Alipay: ways to spoil a signed notification, as pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"
#include "sim/alipay/notify.hpp"

namespace orderpay::sim {

enum class ZfbTamper {
    kNone,
    kSign,            // one character of sign changed (still valid base64, a different signature)
    kAmount,          // total_amount + 0.01, original sign kept (signature no longer verifies)
    kAmountResigned,  // total_amount + 0.01, signed again with the Alipay key (valid sign, wrong amount)
    kAppId,           // another app_id, signed again
    kSellerId,        // another seller_id, signed again
};

/// "" -> kNone, "sign", "amount", "amount_resigned", "app_id", "seller_id"; nullopt for others.
std::optional<ZfbTamper> ParseZfbTamper(std::string_view text);

/// Applies `t` to signed notification parameters; `alipay_key` is used by the re-signing tampers.
void TamperZfbParams(ZfbParams& params, ZfbTamper t, const crypto::PKey& alipay_key);

}  // namespace orderpay::sim

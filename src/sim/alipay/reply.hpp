// Alipay gateway answers as text: the response object, its node name, and the signed body whose
// signature covers exactly the object text emitted (PROTOCOLS.md §2.3). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/crypto/rsa.hpp"

namespace orderpay::sim {

/// One member of a response object: a JSON string, or (raw_json) JSON text inserted verbatim.
struct ZfbMember {
    std::string name;
    std::string value;
    bool raw_json = false;
};
using ZfbMembers = std::vector<ZfbMember>;

/// "alipay.trade.query" -> "alipay_trade_query_response".
std::string ZfbResponseNode(std::string_view method);

/// The object's compact JSON text, members in the given order; non-ASCII stays raw UTF-8, as
/// Alipay sends it.
std::string ZfbObjectText(const ZfbMembers& members);

/// {"<node>":<object_text>,"sign":"<base64 SHA256withRSA over object_text>"}; without "sign"
/// when `key` is null (an unknown app_id: nothing to sign with).
std::string ZfbSignedBody(std::string_view node, std::string_view object_text, const crypto::PKey& key);

/// "yyyy-MM-dd HH:mm:ss" in GMT+8 (gmt_payment, send_pay_date, notify_time ...).
std::string ZfbTime(std::int64_t epoch_seconds);

/// Fen as Alipay's decimal yuan string: 1 -> "0.01", 12345 -> "123.45".
std::string Yuan(std::int64_t fen);

/// Alipay's total_amount: a decimal string of at most two decimals in [0.01, 100000000], no
/// sign, spaces or exponent. Stores fen in `fen`.
bool ParseYuan(std::string_view text, std::int64_t& fen);

}  // namespace orderpay::sim

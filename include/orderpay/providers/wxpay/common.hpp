// What WeChat Pay's v2 and v3 requests write alike: times in Beijing time, and the order's title
// as the item text WeChat shows the buyer; and how both read an order query's trade_state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "orderpay/providers/provider.hpp"

namespace orderpay::wxpay {

/// `epoch_s` in Beijing time (UTC+8, the zone WeChat reads every time in), written with
/// strftime's `format`: v2's time_expire is "%Y%m%d%H%M%S", v3's is RFC 3339.
std::string BeijingTime(std::int64_t epoch_s, const char* format);

/// v3's (and its notices') time format: RFC 3339 with Beijing's offset.
inline constexpr const char* kV3TimeFormat = "%Y-%m-%dT%H:%M:%S+08:00";
inline std::string V3Time(std::int64_t epoch_s) {
    return BeijingTime(epoch_s, kV3TimeFormat);
}

/// The order title as WeChat's item text, at most `max_bytes` of UTF-8 (v2's body 120, v3's
/// description 127), or "order" when nothing is left of it: WeChat refuses an empty one.
std::string ItemText(const std::string& title, std::size_t max_bytes);

/// An order query's trade_state, which v2 and v3 name alike: SUCCESS and REFUND (paid, then
/// refunded in part or whole: the money did arrive) are paid, NOTPAY not paid, USERPAYING being
/// paid, CLOSED and REVOKED closed, PAYERROR failed; anything else unknown.
providers::QueryResult::State TradeState(std::string_view trade_state);

}  // namespace orderpay::wxpay

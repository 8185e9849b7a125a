// Beijing time, the item text and the trade_state reading, shared by the v2 and v3 clients so that
// both write and read them alike.
#include "orderpay/providers/wxpay/common.hpp"

#include <ctime>

#include "orderpay/http/utf8.hpp"

namespace orderpay::wxpay {

std::string BeijingTime(std::int64_t epoch_s, const char* format) {
    std::time_t t = static_cast<std::time_t>(epoch_s + 8 * 3600);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

std::string ItemText(const std::string& title, std::size_t max_bytes) {
    std::string out = http::FitUtf8(title, max_bytes);
    return out.empty() ? "order" : out;
}

providers::QueryResult::State TradeState(std::string_view ts) {
    using S = providers::QueryResult::State;
    if (ts == "SUCCESS" || ts == "REFUND") return S::kPaid;
    if (ts == "NOTPAY") return S::kNotPaid;
    if (ts == "USERPAYING") return S::kPaying;
    if (ts == "CLOSED" || ts == "REVOKED") return S::kClosed;
    if (ts == "PAYERROR") return S::kFailed;
    return S::kUnknown;
}

}  // namespace orderpay::wxpay

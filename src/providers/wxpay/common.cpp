// Beijing time and the item text, shared by the v2 and v3 clients so that both write them alike.
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

}  // namespace orderpay::wxpay

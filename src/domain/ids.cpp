// Id shape checks (pure).
#include "orderpay/domain/ids.hpp"

namespace orderpay::domain {

bool IsOrderId(std::string_view id) {
    if (id.empty() || id.size() > 32) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

namespace {

bool IdChars(std::string_view id, bool at) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-' || (at && c == '@')))
            return false;
    return true;
}

}  // namespace

bool IsAccountId(std::string_view id) {
    return IdChars(id, true);
}

bool IsSetupId(std::string_view id) {
    return IdChars(id, false);
}

std::optional<std::int64_t> ParseDigits(std::string_view s, std::size_t max_digits) {
    if (s.empty() || s.size() > max_digits || max_digits > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace orderpay::domain

// Id shape checks (pure).
#include "orderpay/domain/ids.hpp"

namespace orderpay::domain {

bool IsOrderId(std::string_view id) {
    if (id.empty() || id.size() > 32) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

bool IsAccountId(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '@' || c == '-'))
            return false;
    return true;
}

}  // namespace orderpay::domain

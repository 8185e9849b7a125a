// Id shape checks (pure).
#include "orderpay/domain/ids.hpp"

namespace orderpay::domain {

bool IsOrderId(std::string_view id) {
    if (id.empty() || id.size() > 32) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

}  // namespace orderpay::domain

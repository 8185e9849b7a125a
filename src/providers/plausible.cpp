// The one test of a provider's id before orderpay stores or shows it (plausible.hpp).
#include "orderpay/providers/plausible.hpp"

#include "orderpay/http/utf8.hpp"

namespace orderpay::providers {

// WeChat's ids are 32 digits, Alipay's 64, PayPal's under 40, a prepay_id 36 or so. Anything else
// (a NUL that libpq would cut the value at, bytes that are not UTF-8, kilobytes past PostgreSQL's
// index row limit, a CR LF) is a value orderpay cannot use, never one to write: it failed the
// settlement's statement, stopped a whole reconcile run, and settled on an id cut at a NUL.
bool PlausibleId(std::string_view id) {
    if (id.empty() || id.size() > 128 || !http::IsText(id)) return false;
    for (unsigned char c : id)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace orderpay::providers

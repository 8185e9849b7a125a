// The statement list of a paysim worker and the helpers both providers' stores use.
#include "sim/core/store.hpp"

#include "sim/alipay/store.hpp"
#include "sim/paypal/store.hpp"
#include "sim/wxpay/refund_store.hpp"
#include "sim/wxpay/store.hpp"
#include "sim/wxpay3/store.hpp"

namespace orderpay::sim::store {

std::span<const db::Statement> Statements() {
    // Both providers' statements, prepared together on the worker's one connection.
    static const std::vector<db::Statement> all = [] {
        std::vector<db::Statement> v;
        for (std::span<const db::Statement> part :
             {wx_store::Statements(), wx_refund_store::Statements(), zfb_store::Statements(),
              pp_store::Statements(), wx3_store::Statements()})
            v.insert(v.end(), part.begin(), part.end());
        return v;
    }();
    return all;
}

std::string TextArray(std::initializer_list<std::string_view> items) {
    std::string out = "{";
    for (std::string_view s : items) {
        if (out.size() > 1) out += ',';
        out += s;
    }
    out += '}';
    return out;
}

std::optional<std::int64_t> OptInt(const db::Result& r, int row, const char* col) {
    if (r.IsNull(row, r.Col(col))) return std::nullopt;
    return r.GetInt(row, col);
}

}  // namespace orderpay::sim::store

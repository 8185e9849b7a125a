// /sim/pay's Alipay tamper knobs: each turns a correctly signed notification into one forgery.
#include "sim/alipay/tamper.hpp"

#include <stdexcept>

#include "orderpay/domain/money.hpp"
#include "sim/alipay/reply.hpp"

namespace orderpay::sim {

namespace {

std::string& Value(ZfbParams& params, std::string_view name) {
    for (auto& [k, v] : params)
        if (k == name) return v;
    throw std::logic_error("TamperZfbParams: no " + std::string(name));
}

// Another id of the same shape: the last digit (or character) changed.
void Bump(std::string& id) {
    if (id.empty()) throw std::logic_error("TamperZfbParams: empty id");
    char& c = id.back();
    c = c >= '0' && c <= '9' ? static_cast<char>('0' + (c - '0' + 1) % 10) : (c == 'x' ? 'y' : 'x');
}

void AddOneFen(std::string& amount) {
    std::optional<domain::Minor> fen = domain::ParseDecimal(amount, 2);
    if (!fen) throw std::logic_error("TamperZfbParams: bad total_amount");
    amount = Yuan(*fen + 1);
}

}  // namespace

void TamperZfbParams(ZfbParams& params, ZfbTamper t, const crypto::PKey& alipay_key) {
    switch (t) {
        case ZfbTamper::kNone:
            return;
        case ZfbTamper::kSign: {
            // The first character: at the end a change could touch only base64 padding bits and
            // leave the signature bytes as they were.
            std::string& sign = Value(params, "sign");
            if (sign.empty()) throw std::logic_error("TamperZfbParams: unsigned parameters");
            sign[0] = sign[0] == 'A' ? 'B' : 'A';
            return;
        }
        case ZfbTamper::kAmount:
            AddOneFen(Value(params, "total_amount"));
            return;
        case ZfbTamper::kAmountResigned:
            AddOneFen(Value(params, "total_amount"));
            break;
        case ZfbTamper::kAppId:
            Bump(Value(params, "app_id"));
            break;
        case ZfbTamper::kSellerId:
            Bump(Value(params, "seller_id"));
            break;
    }
    ZfbSignParams(params, alipay_key);
}

}  // namespace orderpay::sim

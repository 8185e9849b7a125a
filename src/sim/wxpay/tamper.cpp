// /sim/pay's WeChat tamper knobs: each turns a correctly signed notification into a specific forgery.
#include "sim/wxpay/tamper.hpp"

#include <stdexcept>

namespace orderpay::sim {

namespace {

// WeChat XML values are exact text; total_fee is ours, so it always parses.
std::string PlusOne(const std::string& fen) {
    return std::to_string(std::stoll(fen) + 1);
}

}  // namespace

std::string TamperedBody(http::XmlFields fields, Tamper t, std::string_view api_key, wxpay::SignType type) {
    switch (t) {
        case Tamper::kNone:
            break;
        case Tamper::kSign: {
            std::string& sign = fields.at("sign");
            if (sign.empty()) throw std::logic_error("TamperedBody: unsigned fields");
            // Another hex digit in the same case, so only the value is wrong, not its shape.
            sign.back() = sign.back() == '0' ? '1' : '0';
            break;
        }
        case Tamper::kAmount:
            fields.at("total_fee") = PlusOne(fields.at("total_fee"));
            break;
        case Tamper::kAmountResigned:
            fields.at("total_fee") = PlusOne(fields.at("total_fee"));
            fields["sign"] = wxpay::Sign(fields, api_key, type);
            break;
        case Tamper::kAppid:
            fields.at("appid") += "x";
            fields["sign"] = wxpay::Sign(fields, api_key, type);
            break;
        case Tamper::kDoctype:
            return "<!DOCTYPE xml [<!ENTITY x \"y\">]>" + http::BuildFlatXml(fields);
    }
    return http::BuildFlatXml(fields);
}

}  // namespace orderpay::sim

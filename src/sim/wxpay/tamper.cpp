// /sim/pay's WeChat tamper knobs: each turns a correctly signed notification into a specific forgery.
#include "sim/wxpay/tamper.hpp"

#include <stdexcept>

namespace orderpay::sim {

namespace {

// WeChat XML values are exact text; total_fee is ours, so it always parses.
std::string PlusOne(const std::string& fen) {
    return std::to_string(std::stoll(fen) + 1);
}

// A value as escaped text instead of CDATA: its first character as a decimal character
// reference (so every value carries one), markup characters as entities, every non-ASCII
// character as a hexadecimal character reference. Values we sign are UTF-8 without CR.
std::string Escaped(std::string_view v) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
        const auto b = static_cast<unsigned char>(v[i]);
        if (i == 0 && b < 0x80) {
            out += "&#" + std::to_string(b) + ";";
            ++i;
            continue;
        }
        if (b < 0x80) {
            out += b == '&' ? "&amp;" : b == '<' ? "&lt;" : b == '>' ? "&gt;" : std::string(1, v[i]);
            ++i;
            continue;
        }
        const std::size_t len = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
        char32_t cp = b & (0x7F >> len);
        for (std::size_t k = 1; k < len && i + k < v.size(); ++k) cp = (cp << 6) | (v[i + k] & 0x3F);
        std::string hex;
        for (; cp != 0; cp >>= 4) hex.insert(hex.begin(), kHex[cp & 15]);
        out += "&#x" + hex + ";";
        i += len;
    }
    return out;
}

// The same fields as a pretty-printing sender would write them: a byte order mark, the XML
// declaration, a comment before the root, CRLF and indentation between fields, escaped text.
std::string Pretty(const http::XmlFields& fields) {
    std::string out =
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- paysim -->\r\n<xml>\r\n";
    for (const auto& [k, v] : fields) out += "  <" + k + ">" + Escaped(v) + "</" + k + ">\r\n";
    return out + "</xml>\r\n";
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
        case Tamper::kPretty:
            return Pretty(fields);
        case Tamper::kGbkDeclaration:
            return "<?xml version=\"1.0\" encoding=\"GBK\"?>" + http::BuildFlatXml(fields);
        case Tamper::kComment: {
            // Inside the transaction id, which the signature covers: "42<!-- -->00..." reads as
            // "4200..." to a reader that drops comments, so the old signature would still verify.
            std::string xml = http::BuildFlatXml(fields);
            const std::string open = "<transaction_id>";
            const std::size_t at = xml.find(open);
            if (at == std::string::npos) throw std::logic_error("TamperedBody: no transaction_id");
            return xml.insert(at + open.size() + 2, "<!-- -->");
        }
    }
    return http::BuildFlatXml(fields);
}

}  // namespace orderpay::sim

// WeChat Pay v2 flat XML: the writer, whose output ParseFlatXml (xml.cpp) reads back unchanged.
#include <stdexcept>

#include "orderpay/http/xml.hpp"

namespace orderpay::http {

namespace {

bool ValidKey(std::string_view key) {
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;  // XML names cannot start with a digit
    for (char c : key) {
        const bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

bool AllDigits(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

std::string BuildFlatXml(const XmlFields& fields) {
    std::string out = "<xml>";
    for (const auto& [key, value] : fields) {
        // Keys and values come from our own code; a bad one is a programming error, and writing
        // it anyway would produce XML the provider (or our own parser) reads differently.
        if (!ValidKey(key)) throw std::invalid_argument("BuildFlatXml: invalid key");
        if (!IsXmlText(value, /*allow_cr=*/false))
            throw std::invalid_argument("BuildFlatXml: value is not XML text");
        out.append(1, '<').append(key).append(1, '>');
        if (AllDigits(value)) {
            out += value;
        } else {
            out += "<![CDATA[";
            // "]]>" would close the section early, and a "<!DOCTYPE" or "<!ENTITY" anywhere makes
            // ParseFlatXml refuse the whole document: end the section after "]]" and after "<",
            // and start a new one for the rest. Written a run at a time, not a character.
            std::size_t run = 0;
            for (std::size_t i = 0; i + 1 < value.size(); ++i) {
                const bool lt_bang = value[i] == '<' && value[i + 1] == '!';
                const bool cdata_end = i > 0 && value[i - 1] == ']' && value[i] == ']' && value[i + 1] == '>';
                if (lt_bang || cdata_end) {
                    out.append(value, run, i + 1 - run).append("]]><![CDATA[");
                    run = i + 1;
                }
            }
            out.append(value, run).append("]]>");
        }
        out.append("</").append(key).append(1, '>');
    }
    out += "</xml>";
    return out;
}

}  // namespace orderpay::http

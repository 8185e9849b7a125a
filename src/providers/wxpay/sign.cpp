// WeChat Pay API v2 request/notification signatures (PROTOCOLS.md §1.2).
#include "orderpay/providers/wxpay/sign.hpp"

#include "orderpay/crypto/digest.hpp"

namespace orderpay::wxpay {

std::optional<SignType> ParseSignType(std::string_view text) {
    if (text == "MD5") return SignType::kMd5;
    if (text == "HMAC-SHA256") return SignType::kHmacSha256;
    return std::nullopt;
}

std::string_view ToString(SignType t) {
    return t == SignType::kMd5 ? "MD5" : "HMAC-SHA256";
}

std::string SignString(const std::map<std::string, std::string>& fields, std::string_view api_key) {
    // std::map already iterates in byte order of the names, which is WeChat's "ASCII order".
    // Every non-empty field is signed, including ones we do not know: WeChat adds fields, and
    // sign_type must be covered when present.
    std::string out;
    for (const auto& [name, value] : fields) {
        if (name == "sign" || value.empty()) continue;
        if (!out.empty()) out += '&';
        out += name;
        out += '=';
        out += value;
    }
    if (!out.empty()) out += '&';
    out += "key=";
    out += api_key;
    return out;
}

std::string Sign(const std::map<std::string, std::string>& fields, std::string_view api_key, SignType type) {
    const std::string text = SignString(fields, api_key);
    const std::string raw = type == SignType::kMd5 ? crypto::Md5(text) : crypto::HmacSha256(api_key, text);
    return crypto::HexUpper(raw);
}

bool Verify(const std::map<std::string, std::string>& fields, std::string_view api_key, SignType type) {
    // A missing or empty sign is a forgery attempt (WxJava#1890), never "nothing to check".
    const auto it = fields.find("sign");
    if (it == fields.end() || it->second.empty()) return false;
    return crypto::EqualsIgnoreCaseConstTime(it->second, Sign(fields, api_key, type));
}

}  // namespace orderpay::wxpay

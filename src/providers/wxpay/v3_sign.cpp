// WeChat Pay API v3 message construction and checks (PROTOCOLS.md §1.6-§1.8), shared by
// orderpay's client and notification code and by paysim.
#include "orderpay/providers/wxpay/v3_sign.hpp"

#include <charconv>

#include "orderpay/crypto/aead.hpp"
#include "orderpay/crypto/digest.hpp"

namespace orderpay::wxpay::v3 {

std::string RequestMessage(std::string_view method, std::string_view url, std::string_view timestamp,
                           std::string_view nonce, std::string_view body) {
    std::string m;
    m.reserve(method.size() + url.size() + timestamp.size() + nonce.size() + body.size() + 5);
    for (std::string_view part : {method, url, timestamp, nonce, body}) {
        m += part;
        m += '\n';
    }
    return m;
}

std::string Authorization(const crypto::PKey& merchant_key, std::string_view mchid,
                          std::string_view serial_no, std::string_view method, std::string_view url,
                          std::string_view timestamp, std::string_view nonce, std::string_view body) {
    const std::string sig =
        crypto::RsaSha256SignBase64(merchant_key, RequestMessage(method, url, timestamp, nonce, body));
    if (sig.empty()) return {};
    std::string h(kSchema);
    h += " mchid=\"" + std::string(mchid) + "\",nonce_str=\"" + std::string(nonce) + "\",signature=\"" + sig +
         "\",timestamp=\"" + std::string(timestamp) + "\",serial_no=\"" + std::string(serial_no) + "\"";
    return h;
}

std::optional<std::map<std::string, std::string>> ParseAuthorization(std::string_view header) {
    if (header.size() > 4096 || header.substr(0, kSchema.size()) != kSchema) return std::nullopt;
    std::string_view rest = header.substr(kSchema.size());
    if (rest.empty() || rest.front() != ' ') return std::nullopt;
    std::map<std::string, std::string> out;
    while (!rest.empty()) {
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
        if (rest.empty()) break;
        const std::size_t eq = rest.find('=');
        if (eq == std::string_view::npos || eq == 0) return std::nullopt;
        std::string name(rest.substr(0, eq));
        for (char c : name)
            if (!(c == '_' || (c >= 'a' && c <= 'z'))) return std::nullopt;
        rest.remove_prefix(eq + 1);
        if (rest.empty() || rest.front() != '"') return std::nullopt;
        const std::size_t close = rest.find('"', 1);
        if (close == std::string_view::npos) return std::nullopt;
        std::string value(rest.substr(1, close - 1));
        if (value.find(',') != std::string::npos) return std::nullopt;
        if (!out.emplace(std::move(name), std::move(value)).second) return std::nullopt;
        rest.remove_prefix(close + 1);
        if (!rest.empty() && rest.front() != ',' && rest.front() != ' ') return std::nullopt;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

std::string AnswerMessage(std::string_view timestamp, std::string_view nonce, std::string_view body) {
    std::string m;
    m.reserve(timestamp.size() + nonce.size() + body.size() + 3);
    for (std::string_view part : {timestamp, nonce, body}) {
        m += part;
        m += '\n';
    }
    return m;
}

bool VerifyAnswer(const crypto::PKey& key, std::string_view timestamp, std::string_view nonce,
                  std::string_view body, std::string_view signature) {
    if (timestamp.empty() || nonce.empty() || signature.empty()) return false;
    return crypto::RsaSha256VerifyBase64(key, AnswerMessage(timestamp, nonce, body), signature);
}

std::string SignAnswer(const crypto::PKey& key, std::string_view timestamp, std::string_view nonce,
                       std::string_view body) {
    return crypto::RsaSha256SignBase64(key, AnswerMessage(timestamp, nonce, body));
}

bool TimestampFresh(std::string_view timestamp, std::int64_t now) {
    if (timestamp.empty() || timestamp.size() > 12) return false;
    std::int64_t ts = 0;
    const auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
    if (ec != std::errc() || end != timestamp.data() + timestamp.size()) return false;
    const std::int64_t skew = ts > now ? ts - now : now - ts;
    return skew < kMaxSkewSeconds;
}

std::string JsapiPaySign(const crypto::PKey& merchant_key, std::string_view app_id,
                         std::string_view timestamp, std::string_view nonce, std::string_view package) {
    std::string m;
    for (std::string_view part : {app_id, timestamp, nonce, package}) {
        m += part;
        m += '\n';
    }
    return crypto::RsaSha256SignBase64(merchant_key, m);
}

bool DecryptResource(std::string_view apiv3_key, std::string_view nonce, std::string_view associated_data,
                     std::string_view ciphertext_b64, std::string& plain, std::string& error) {
    std::string raw;
    if (ciphertext_b64.empty() || !crypto::Base64Decode(ciphertext_b64, raw)) {
        error = "resource ciphertext is not base64";
        return false;
    }
    if (!crypto::AesGcmDecrypt(apiv3_key, nonce, associated_data, raw, plain)) {
        error = "resource does not decrypt (AEAD_AES_256_GCM tag mismatch)";
        return false;
    }
    return true;
}

std::string EncryptResource(std::string_view apiv3_key, std::string_view nonce,
                            std::string_view associated_data, std::string_view plain) {
    std::string raw;
    if (!crypto::AesGcmEncrypt(apiv3_key, nonce, associated_data, plain, raw)) return {};
    return crypto::Base64Encode(raw);
}

}  // namespace orderpay::wxpay::v3

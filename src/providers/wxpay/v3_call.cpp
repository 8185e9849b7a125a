// WeChat Pay v3 calls over libcurl (PROTOCOLS.md §1.6): every request signed with the merchant's
// key, every 2xx answer's Wechatpay-Signature verified (204 included) before a byte of it is
// believed, and the platform certificates fetched and decrypted to verify with.
#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/providers/wxpay/v3.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "v3_json.hpp"

namespace orderpay::wxpay {

using v3json::Member;
using v3json::ParseObject;

WxPayV3::Answer WxPayV3::Call(const providers::Merchant& m, const std::string& method,
                              const std::string& path_query, const std::string& body, bool verify) const {
    Answer a;
    std::string error;
    std::shared_ptr<const V3Keys> keys = LoadV3Keys(m, error);
    if (!keys) {
        a.error = error;
        return a;
    }
    const std::string ts = std::to_string(std::time(nullptr));
    const std::string nonce = crypto::HexUpper(crypto::RandomToken(16)).substr(0, 32);
    providers::HttpOptions ho;
    ho.connect_timeout_ms = opts_.timeouts.connect_ms;
    ho.timeout_ms = opts_.timeouts.total_ms;
    ho.headers = {{"Authorization", v3::Authorization(keys->merchant_private, m.mch_id, keys->cert_serial,
                                                      method, path_query, ts, nonce, body)},
                  {"Accept", "application/json"}};
    if (!keys->public_key_id.empty()) ho.headers.emplace_back("Wechatpay-Serial", keys->public_key_id);
    providers::HttpResult hr = providers::HttpRequest(method, opts_.gateway + path_query, body,
                                                      body.empty() ? "" : "application/json", ho);
    if (hr.fail != providers::HttpFail::kNone) {
        a.timeout = hr.fail != providers::HttpFail::kConnect;  // refused: it never arrived
        a.error = "http: " + hr.error;
        return a;
    }
    a.status = hr.status;
    a.body = std::move(hr.body);
    a.serial = hr.Header("wechatpay-serial");
    a.timestamp = hr.Header("wechatpay-timestamp");
    a.nonce = hr.Header("wechatpay-nonce");
    a.signature = hr.Header("wechatpay-signature");
    if (hr.status < 200 || hr.status > 299) {
        rapidjson::Document d;
        if (ParseObject(a.body, d)) {
            a.code = Member(d, "code");
            a.message = Member(d, "message");
        }
        a.timeout = hr.status >= 500;  // a 5xx may have been processed
        a.error = "http status " + std::to_string(hr.status) + (a.code.empty() ? "" : " " + a.code) +
                  (a.message.empty() ? "" : ": " + a.message);
        return a;  // its signature is checked only by a caller that acts on it (SignedError)
    }
    if (!verify) {
        a.ok = true;
        return a;
    }
    // A forged or corrupted answer is no answer at all: the outcome stays unknown.
    std::string why;
    a.timeout = true;
    if (!Signed(m, *keys, a, why)) {
        a.error = why;
    } else {
        a.timeout = false;
        a.ok = true;
    }
    return a;
}

// Whether WeChat Pay signed answer `a` (PROTOCOLS.md §1.6 "Verify responses too").
bool WxPayV3::Signed(const providers::Merchant& m, const V3Keys& keys, const Answer& a,
                     std::string& why) const {
    const std::string serial = a.serial;
    crypto::PKey key = KeyForSerial(
        m, keys, a.serial,
        [this, &serial](const providers::Merchant& mm, const V3Keys& kk,
                        std::map<std::string, std::string>& pems,
                        std::string& e) { return Certificates(mm, kk, serial, pems, e, nullptr); },
        why);
    if (!key) {
        why = "answer not verifiable: " + why;
    } else if (!v3::TimestampFresh(a.timestamp, std::time(nullptr))) {
        why = "answer timestamp missing or stale";
    } else if (!v3::VerifyAnswer(key, a.timestamp, a.nonce, a.body, a.signature)) {
        why = "answer signature invalid";
    } else {
        return true;
    }
    return false;
}

bool WxPayV3::SignedError(const providers::Merchant& m, const Answer& a, std::string& why) const {
    if (a.signature.empty()) return false;
    std::string error;
    std::shared_ptr<const V3Keys> keys = LoadV3Keys(m, error);
    if (!keys) {
        why = error;
        return false;
    }
    return Signed(m, *keys, a, why);
}

bool WxPayV3::FetchCertificates(const providers::Merchant& m, const V3Keys& keys,
                                std::map<std::string, std::string>& pem_by_serial, std::string& error) const {
    Answer a = Call(m, "GET", "/v3/certificates", "", /*verify=*/false);
    if (!a.ok) {
        error = a.error;
        return false;
    }
    rapidjson::Document d;
    if (!ParseObject(a.body, d) || !d.HasMember("data") || !d["data"].IsArray()) {
        error = "certificates answer is not {\"data\":[...]}";
        return false;
    }
    // Decrypting with the APIv3 key authenticates each certificate (GCM); the answer itself must
    // then be signed by one of them (or the public key): new certificates vouch for the list.
    std::map<std::string, std::string> found;
    for (const rapidjson::Value& c : d["data"].GetArray()) {
        const std::string serial = Member(c, "serial_no");
        if (serial.empty() || !c.HasMember("encrypt_certificate")) continue;
        const rapidjson::Value& e = c["encrypt_certificate"];
        std::string pem, why;
        if (Member(e, "algorithm") != "AEAD_AES_256_GCM" ||
            !v3::DecryptResource(m.api_key, Member(e, "nonce"), Member(e, "associated_data"),
                                 Member(e, "ciphertext"), pem, why)) {
            error = "certificate " + serial + " does not decrypt with the APIv3 key";
            return false;
        }
        if (crypto::CertSerialHex(pem).value_or("") != serial) {
            error = "certificate " + serial + " carries another serial";
            return false;
        }
        found[serial] = pem;
    }
    crypto::PKey signer;
    if (keys.wechatpay_public && a.serial == keys.public_key_id) {
        signer = keys.wechatpay_public;
    } else if (auto it = found.find(a.serial); it != found.end()) {
        std::string why;
        signer = crypto::PublicKeyFromPem(it->second, why);
    }
    if (!signer || !v3::TimestampFresh(a.timestamp, std::time(nullptr)) ||
        !v3::VerifyAnswer(signer, a.timestamp, a.nonce, a.body, a.signature)) {
        error = "certificates answer signature invalid";
        return false;
    }
    pem_by_serial = std::move(found);
    return true;
}

}  // namespace orderpay::wxpay

// Builds WeChat Pay v3 notifications the way WeChat does (PROTOCOLS.md §1.8), and the forgeries
// /sim/pay's tamper knobs ask for.
#include "sim/wxpay3/notify.hpp"

#include <cctype>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/v3_sign.hpp"
#include "sim/wxpay3/gateway.hpp"

namespace orderpay::sim {

Wx3Notice SealWx3Notice(const Wx3Merchant& m, const std::string& plain, const Wx3Envelope& e,
                        Wx3Tamper tamper, std::int64_t now) {
    using wxpay::v3::EncryptResource;
    const std::string nonce = crypto::RandomId(12);
    std::string ct = EncryptResource(m.row.api_key, nonce, e.original_type, plain);
    if (tamper == Wx3Tamper::kCiphertext) {
        std::string raw;
        crypto::Base64Decode(ct, raw);
        raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 0x01);
        ct = crypto::Base64Encode(raw);
    }
    // associated_data is the original type, as WeChat sends it; kAad changes one letter.
    std::string sent_aad = e.original_type;
    if (tamper == Wx3Tamper::kAad)
        sent_aad.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(sent_aad.back())));
    using http::JsonString;
    Wx3Notice n;
    n.body = "{\"id\":" + JsonString("EV-" + crypto::RandomId(20)) +
             ",\"create_time\":" + JsonString(e.create_time) +
             ",\"resource_type\":\"encrypt-resource\",\"event_type\":" + JsonString(e.event_type) +
             ",\"summary\":" + JsonString(e.summary) +
             ",\"resource\":{\"original_type\":" + JsonString(e.original_type) +
             ",\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":" + JsonString(ct) +
             ",\"associated_data\":" + JsonString(sent_aad) + ",\"nonce\":" + JsonString(nonce) + "}}";
    const std::string ts = std::to_string(tamper == Wx3Tamper::kTimestamp ? now - 600 : now);
    const std::string hdr_nonce = crypto::RandomId(32);
    std::string sig = wxpay::v3::SignAnswer(m.platform_private, ts, hdr_nonce, n.body);
    if (tamper == Wx3Tamper::kSign) sig[10] = sig[10] == 'A' ? 'B' : 'A';
    const std::string serial = tamper == Wx3Tamper::kSerial
                                   ? (m.public_key_id.empty() ? "7FFFFFFFFFFFFFFF" : "PUB_KEY_ID_0000FORGED")
                                   : m.SigningSerial();
    n.headers = {{"Wechatpay-Timestamp", ts},
                 {"Wechatpay-Nonce", hdr_nonce},
                 {"Wechatpay-Serial", serial},
                 {"Wechatpay-Signature", sig},
                 {"Wechatpay-Signature-Type", std::string(wxpay::v3::kSchema)},
                 {"Request-ID", crypto::RandomId(24)}};
    return n;
}

Wx3Notice BuildWx3Notice(const Wx3Merchant& m, const wx_store::Trade& t, Wx3Tamper tamper, std::int64_t now) {
    const std::string other_app = "wx" + crypto::RandomId(16);
    const std::string plain = Wx3TransactionJson(t, tamper == Wx3Tamper::kAmountResigned ? 1 : 0,
                                                 tamper == Wx3Tamper::kAppid ? &other_app : nullptr);
    const Wx3Envelope e{"TRANSACTION.SUCCESS", "支付成功", "transaction",
                        t.paid_at ? std::to_string(*t.paid_at) : std::to_string(now)};
    return SealWx3Notice(m, plain, e, tamper, now);
}

}  // namespace orderpay::sim

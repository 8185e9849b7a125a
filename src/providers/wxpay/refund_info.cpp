// The pure parts of WeChat Pay v2 refunds: the merchant's client certificate checked at
// `merchant add`, and req_info of the refund notification (AES-256-ECB with the MD5 of the key).
#include <cctype>

#include "orderpay/crypto/aead.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/crypto/x509_chain.hpp"
#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/xml.hpp"
#include "orderpay/providers/fields.hpp"
#include "orderpay/providers/wxpay/refund.hpp"

namespace orderpay::wxpay {

using providers::Field;

namespace {

constexpr std::size_t kMaxReqInfo = 16 * 1024;  // a refund's few fields; WeChat's are under 2 KiB

// A positive amount in fen (WeChat's Int fields), read as every amount a provider sends is
// (domain::ParseProviderAmount), or nullopt.
std::optional<std::int64_t> Fen(const std::string& text) {
    std::optional<std::int64_t> v = domain::ParseProviderAmount(text, 0);
    return v && *v > 0 ? v : std::nullopt;
}

}  // namespace

std::optional<ClientCert> V2ClientCert(const providers::Merchant& m) {
    rapidjson::Document d;
    if (!http::ParseJson(m.options, d).empty() || !d.IsObject()) return std::nullopt;
    std::optional<std::string> cert = http::GetString(d, "client_cert_file");
    std::optional<std::string> key = http::GetString(d, "client_key_file");
    if (!cert || !key || cert->empty() || key->empty()) return std::nullopt;
    return ClientCert{*cert, *key};
}

std::string ClientCertOptions(const providers::MerchantInput& in, const std::string& mch_id) {
    std::optional<std::string> cert_path = in.Path("client-cert-file");
    std::optional<std::string> key_path = in.Path("client-key-file");
    if (!cert_path && !key_path) return {};
    if (!cert_path || !key_path)
        throw providers::MerchantError("--client-cert-file and --client-key-file go together");
    std::string error;
    std::optional<std::string> cert_pem = crypto::ReadSmallFile(*cert_path, error);
    if (!cert_pem) throw providers::MerchantRefusal("--client-cert-file: " + error);
    // Taken as given (not chained to a root): WeChat's own CA issued it, and the gateway judges it.
    crypto::LeafCert leaf = crypto::CheckLeafCert(*cert_pem, "", false);
    if (!leaf.ok) throw providers::MerchantRefusal("--client-cert-file: " + leaf.error);
    std::optional<std::string> key_pem = crypto::ReadSmallFile(*key_path, error);
    if (!key_pem) throw providers::MerchantRefusal("--client-key-file: " + error);
    crypto::PKey key = crypto::PrivateKeyFromPem(*key_pem, error);
    if (!key) throw providers::MerchantRefusal("--client-key-file: " + error);
    if (!crypto::KeysMatch(key, leaf.key))
        throw providers::MerchantRefusal(
            "--client-key-file does not belong to the certificate in --client-cert-file");
    if (leaf.cn != mch_id)
        throw providers::MerchantRefusal("--client-cert-file is issued to " + leaf.cn + ", not to mch_id " +
                                         mch_id);
    return ",\"client_cert_file\":" + http::JsonString(*cert_path) +
           ",\"client_key_file\":" + http::JsonString(*key_path);
}

std::string ReqInfoKey(std::string_view api_key) {
    return crypto::HexLower(crypto::Md5(api_key));
}

bool DecryptReqInfo(std::string_view api_key, std::string_view req_info_b64, std::string& plain,
                    std::string& error) {
    plain.clear();
    if (req_info_b64.size() > kMaxReqInfo) {
        error = "req_info over 16 KiB";
        return false;
    }
    std::string ct;
    if (!crypto::Base64Decode(req_info_b64, ct)) {
        error = "req_info is not base64";
        return false;
    }
    if (!crypto::Aes256EcbDecrypt(ReqInfoKey(api_key), ct, plain)) {
        error = "req_info does not decrypt with the merchant's key";
        return false;
    }
    return true;
}

std::string EncryptReqInfo(std::string_view api_key, std::string_view plain) {
    std::string ct;
    if (!crypto::Aes256EcbEncrypt(ReqInfoKey(api_key), plain, ct)) return {};
    return crypto::Base64Encode(ct);
}

std::optional<RefundInfo> ParseRefundInfo(std::string_view xml, std::string& error) {
    http::FlatXmlResult parsed = http::ParseFlatXml(xml, kMaxReqInfo, "root");
    if (!parsed.fields) {
        error = "req_info is not a <root> document: " + parsed.error;
        return std::nullopt;
    }
    const http::XmlFields& f = *parsed.fields;
    RefundInfo r;
    r.out_refund_no = Field(f, "out_refund_no");
    r.refund_id = Field(f, "refund_id");
    r.out_trade_no = Field(f, "out_trade_no");
    r.transaction_id = Field(f, "transaction_id");
    r.refund_status = Field(f, "refund_status");
    r.success_time = Field(f, "success_time");
    if (r.out_refund_no.empty() || r.out_trade_no.empty()) {
        error = "req_info lacks out_refund_no or out_trade_no";
        return std::nullopt;
    }
    if (r.refund_status != "SUCCESS" && r.refund_status != "CHANGE" && r.refund_status != "REFUNDCLOSE") {
        error = "req_info refund_status '" + r.refund_status + "' is not SUCCESS, CHANGE or REFUNDCLOSE";
        return std::nullopt;
    }
    std::optional<std::int64_t> total = Fen(Field(f, "total_fee")), refund = Fen(Field(f, "refund_fee"));
    if (!total || !refund) {
        error = "req_info total_fee and refund_fee must be positive integers";
        return std::nullopt;
    }
    r.total_fee = *total;
    r.refund_fee = *refund;
    r.settlement_refund_fee = Fen(Field(f, "settlement_refund_fee")).value_or(*refund);
    return r;
}

}  // namespace orderpay::wxpay

// WeChat Pay API v2 refunds, the pure parts: the merchant's TLS client certificate (which
// /secapi/* demands), and the refund notification's req_info, AES-256-ECB keyed by the lowercase
// hex MD5 of the merchant's v2 key, whose plaintext is a flat <root> document.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderpay/providers/provider.hpp"

namespace orderpay::wxpay {

/// A v2 merchant's client certificate and key (PEM files; options client_cert_file and
/// client_key_file), sent on /secapi/* calls.
struct ClientCert {
    std::string cert_file;
    std::string key_file;
};

/// The currency a refund is asked and answered in (v2 refund_fee_type, v3 amount.currency):
/// the refund's, CNY when it names none.
inline std::string RefundCurrency(const providers::RefundParams& p) {
    return p.currency.empty() ? "CNY" : p.currency;
}

/// The merchant's client certificate, or nullopt when it has none.
std::optional<ClientCert> V2ClientCert(const providers::Merchant& m);

/// The options members for --client-cert-file/--client-key-file (",\"client_cert_file\":...",
/// or "" when neither is given), after checking that both are given, the certificate and key
/// parse, the key belongs to the certificate, and the certificate's CN is `mch_id` (WeChat
/// issues merchant certificates to the mch_id). Throws MerchantError.
std::string ClientCertOptions(const providers::MerchantInput& in, const std::string& mch_id);

/// The req_info key: the lowercase hex MD5 of the v2 API key (32 bytes, used as an AES-256 key).
std::string ReqInfoKey(std::string_view api_key);

/// base64 -> AES-256-ECB (PKCS#7) with ReqInfoKey(api_key). False with `error` on bad base64, a
/// wrong key (bad padding) or an input over 16 KiB.
bool DecryptReqInfo(std::string_view api_key, std::string_view req_info_b64, std::string& plain,
                    std::string& error);

/// The inverse (paysim and tests).
std::string EncryptReqInfo(std::string_view api_key, std::string_view plain);

/// What a decrypted req_info says. Amounts in fen.
struct RefundInfo {
    std::string out_refund_no, refund_id, out_trade_no, transaction_id;
    std::int64_t total_fee = 0, refund_fee = 0, settlement_refund_fee = 0;
    std::string refund_status;  // SUCCESS, CHANGE, REFUNDCLOSE
    std::string success_time;   // "2026-12-01 10:00:00", when SUCCESS
};

/// Parses the decrypted <root>...</root>: out_refund_no, out_trade_no, refund_status, total_fee
/// and refund_fee are required, amounts are positive integers, the status one of WeChat's
/// three. nullopt with `error` otherwise.
std::optional<RefundInfo> ParseRefundInfo(std::string_view xml, std::string& error);

}  // namespace orderpay::wxpay

// `orderpay merchant add ID --provider wx --api v3 ...`: the v3 merchant's files are checked now
// (the private key parses and, given the merchant certificate, matches it and its serial; the
// WeChat Pay public key parses; the APIv3 key is 32 bytes), so a typo fails here, not at the
// first payment. Secrets come from files: the APIv3 key is stored like the v2 key, the RSA keys
// stay in their files (paths in options).
#include <cctype>

#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {

std::string_view WxPayV3::MerchantUsage() const {
    return "merchant add ID --provider wx --api v3 --app-id A --mch-id M --private-key-file F --cert-serial "
           "S\n"
           "             [--cert-file F] --apiv3-key-file K|-\n"
           "             (--wechatpay-public-key-file P --wechatpay-public-key-id PUB_KEY_ID_... |\n"
           "              --platform-certificates | both)";
}

providers::Merchant WxPayV3::MakeMerchant(const std::string& id, const providers::MerchantInput& in) const {
    auto need = [&](const char* flag) {
        std::optional<std::string> v = in.Flag(flag);
        if (!v || v->empty()) throw providers::MerchantError(std::string("missing --") + flag);
        return *v;
    };
    auto path = [&](const char* flag) {
        std::optional<std::string> p = in.Path(flag);
        if (!p) throw providers::MerchantError(std::string("missing --") + flag);
        return *p;
    };
    for (const char* v2_only : {"key-file", "sign-type"})
        if (in.Flag(v2_only))
            throw providers::MerchantError(std::string("--") + v2_only + " is for --api v2");
    using http::JsonString;
    const std::string serial = need("cert-serial");
    for (char c : serial)
        if (!std::isxdigit(static_cast<unsigned char>(c)) || serial.size() > 64)
            throw providers::MerchantError("--cert-serial is the merchant certificate's serial in hex");
    std::string options = "{\"api\":\"v3\",\"private_key_file\":" + JsonString(path("private-key-file")) +
                          ",\"cert_serial\":" + JsonString(serial);
    std::optional<std::string> pub_id = in.Flag("wechatpay-public-key-id");
    std::optional<std::string> pub_file = in.Path("wechatpay-public-key-file");
    if (pub_id.has_value() != pub_file.has_value())
        throw providers::MerchantError(
            "--wechatpay-public-key-file and --wechatpay-public-key-id go together");
    if (pub_id) {
        if (pub_id->rfind("PUB_KEY_ID_", 0) != 0 || pub_id->size() > 64)
            throw providers::MerchantError("--wechatpay-public-key-id is PUB_KEY_ID_...");
        options += ",\"wechatpay_public_key_file\":" + JsonString(*pub_file) +
                   ",\"wechatpay_public_key_id\":" + JsonString(*pub_id);
    }
    const bool certs = in.Has("platform-certificates");
    if (certs) options += ",\"platform_certificates\":true";
    if (!pub_id && !certs)
        throw providers::MerchantError(
            "give --wechatpay-public-key-file and --wechatpay-public-key-id, or --platform-certificates");
    options += "}";
    providers::Merchant m{id,     "wx", need("app-id"), need("mch-id"), "RSA2", in.Secret("apiv3-key-file"),
                          options};
    // mchid goes into query strings and appid into JSON: WeChat's own characters only.
    for (const std::string* v : {&m.app_id, &m.mch_id})
        for (char c : *v)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
                throw providers::MerchantError("--app-id and --mch-id are letters, digits, _ and -");
    // AES-256-GCM: the APIv3 key is exactly 32 bytes, or nothing WeChat sends will decrypt.
    if (m.api_key.size() != 32) throw providers::MerchantRefusal("the APIv3 key must be 32 bytes");
    std::string error;
    std::shared_ptr<const V3Keys> keys = LoadV3Keys(m, error);
    if (!keys) throw providers::MerchantRefusal(error);
    if (std::optional<std::string> cert_path = in.Path("cert-file")) {
        std::optional<std::string> pem = crypto::ReadSmallFile(*cert_path, error);
        if (!pem) throw providers::MerchantRefusal("--cert-file: " + error);
        crypto::PKey pub = crypto::PublicKeyFromPem(*pem, error);
        if (!pub) throw providers::MerchantRefusal("--cert-file: " + error);
        if (!crypto::KeysMatch(keys->merchant_private, pub))
            throw providers::MerchantRefusal(
                "--private-key-file does not belong to the certificate in --cert-file");
        std::optional<std::string> sn = crypto::CertSerialHex(*pem);
        std::string upper = serial;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (!sn || *sn != upper)
            throw providers::MerchantRefusal("--cert-serial " + serial +
                                             " is not the serial of --cert-file (" + sn.value_or("?") + ")");
    }
    return m;
}

}  // namespace orderpay::wxpay

// Loads a merchant's Alipay keys from the PEM files its options name, once per process: key
// files change only with a config change, and SIGHUP replaces the workers (and this cache).
#include <map>
#include <mutex>

#include "orderpay/http/json.hpp"
#include "orderpay/providers/alipay/client.hpp"

namespace orderpay::alipay {

namespace {

std::optional<std::string> Option(const rapidjson::Document& d, const char* name) {
    auto v = http::GetString(d, name);
    if (!v || v->empty()) return std::nullopt;
    return v;
}

std::shared_ptr<const Keys> Build(const providers::Merchant& m, std::string& error) {
    rapidjson::Document opts;
    if (!http::ParseJson(m.options, opts).empty() || !opts.IsObject()) {
        error = "merchant " + m.id + ": options are not a JSON object";
        return nullptr;
    }
    auto read = [&](const char* name, std::string& out) {
        std::optional<std::string> path = Option(opts, name);
        if (!path) {
            error = std::string("merchant ") + m.id + ": " + name + " not configured";
            return false;
        }
        std::optional<std::string> text = crypto::ReadSmallFile(*path, error);
        if (!text) return false;
        out = std::move(*text);
        return true;
    };
    auto keys = std::make_shared<Keys>();
    std::string pem;
    if (!read("app_private_key_file", pem)) return nullptr;
    keys->app_private = crypto::PrivateKeyFromPem(pem, error);
    if (!keys->app_private) return nullptr;
    if (Option(opts, "alipay_cert_file")) {
        std::string app_cert, alipay_cert, root_cert;
        if (!read("app_cert_file", app_cert) || !read("alipay_cert_file", alipay_cert) ||
            !read("alipay_root_cert_file", root_cert))
            return nullptr;
        auto app_sn = crypto::AlipayCertSn(app_cert);
        auto root_sn = crypto::AlipayRootCertSn(root_cert);
        if (!app_sn || !root_sn) {
            error = "merchant " + m.id + ": cannot read the certificate serial numbers";
            return nullptr;
        }
        keys->app_cert_sn = *app_sn;
        keys->alipay_root_cert_sn = *root_sn;
        keys->alipay_public = crypto::PublicKeyFromPem(alipay_cert, error);
    } else {
        if (!read("alipay_public_key_file", pem)) return nullptr;
        keys->alipay_public = crypto::PublicKeyFromPem(pem, error);
    }
    if (!keys->alipay_public) return nullptr;
    return keys;
}

}  // namespace

std::shared_ptr<const Keys> LoadKeys(const providers::Merchant& m, std::string& error) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const Keys>> cache;
    std::string cache_key = m.id + '\n' + m.options;
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(cache_key);
    if (it != cache.end()) return it->second;
    std::shared_ptr<const Keys> keys = Build(m, error);
    if (keys) cache.emplace(cache_key, keys);
    return keys;
}

}  // namespace orderpay::alipay

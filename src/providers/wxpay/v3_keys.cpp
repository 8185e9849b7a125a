// A v3 merchant's keys, loaded once per process from the files its options name, and the
// platform certificates fetched for it, cached by serial and refreshed when a message names a
// serial we do not know (WeChat rotates them; orderpayd picks the new one up without a restart).
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/wxpay/v3.hpp"

namespace orderpay::wxpay {

namespace {

std::optional<std::string> Option(const rapidjson::Document& d, const char* name) {
    auto v = http::GetString(d, name);
    if (!v || v->empty()) return std::nullopt;
    return v;
}

bool ParseOptions(const providers::Merchant& m, rapidjson::Document& d) {
    return http::ParseJson(m.options, d).empty() && d.IsObject();
}

std::shared_ptr<const V3Keys> Build(const providers::Merchant& m, std::string& error) {
    rapidjson::Document opts;
    if (!ParseOptions(m, opts)) {
        error = "merchant " + m.id + ": options are not a JSON object";
        return nullptr;
    }
    auto keys = std::make_shared<V3Keys>();
    auto read = [&](const char* name) -> std::optional<std::string> {
        std::optional<std::string> path = Option(opts, name);
        if (!path) {
            error = "merchant " + m.id + ": " + name + " not configured";
            return std::nullopt;
        }
        return crypto::ReadSmallFile(*path, error);
    };
    std::optional<std::string> pem = read("private_key_file");
    if (!pem) return nullptr;
    keys->merchant_private = crypto::PrivateKeyFromPem(*pem, error);
    if (!keys->merchant_private) return nullptr;
    keys->cert_serial = Option(opts, "cert_serial").value_or("");
    if (keys->cert_serial.empty()) {
        error = "merchant " + m.id + ": cert_serial not configured";
        return nullptr;
    }
    if (Option(opts, "wechatpay_public_key_id")) {
        keys->public_key_id = *Option(opts, "wechatpay_public_key_id");
        pem = read("wechatpay_public_key_file");
        if (!pem) return nullptr;
        keys->wechatpay_public = crypto::PublicKeyFromPem(*pem, error);
        if (!keys->wechatpay_public) return nullptr;
    }
    keys->platform_certificates = http::GetBool(opts, "platform_certificates").value_or(false);
    if (!keys->wechatpay_public && !keys->platform_certificates) {
        error = "merchant " + m.id + ": neither a WeChat Pay public key nor platform certificates";
        return nullptr;
    }
    return keys;
}

// merchant id -> serial -> key, and when each merchant's list was last fetched.
struct CertCache {
    std::mutex mu;
    std::map<std::string, std::map<std::string, crypto::PKey>> keys;
    std::map<std::string, std::chrono::steady_clock::time_point> fetched;
};

CertCache& Certs() {
    static CertCache cache;
    return cache;
}

// A burst of messages with a made-up serial must not become a burst of gateway calls.
constexpr auto kMinRefreshInterval = std::chrono::seconds(5);

std::string Upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

// Asked on every provider call and notification, of the merchant row just read: parsing its
// options each time was 2-4 % of pay/buy's and re_wx's instructions. The answer depends on the
// options text alone, so each text is parsed once per thread (an edited merchant is a new text).
bool IsV3(const providers::Merchant& m) {
    if (m.provider != "wx") return false;
    thread_local std::map<std::string, bool, std::less<>> seen;
    if (auto it = seen.find(m.options); it != seen.end()) return it->second;
    rapidjson::Document d;
    const bool v3 = ParseOptions(m, d) && http::GetString(d, "api").value_or("") == "v3";
    if (seen.size() >= 64) seen.clear();  // bounded: a few merchants, rarely edited
    seen.emplace(m.options, v3);
    return v3;
}

bool IsV3Request(const providers::RawNotification& raw) {
    for (const auto& [name, value] : raw.headers)
        if (name.rfind("HTTP_WECHATPAY_", 0) == 0) return true;
    const std::size_t first = raw.body.find_first_not_of(" \t\r\n");
    return first != std::string::npos && raw.body[first] == '{';
}

std::shared_ptr<const V3Keys> LoadV3Keys(const providers::Merchant& m, std::string& error) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const V3Keys>> cache;
    const std::string cache_key = m.id + '\n' + m.options;
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(cache_key); it != cache.end()) return it->second;
    std::shared_ptr<const V3Keys> keys = Build(m, error);
    if (keys) cache.emplace(cache_key, keys);
    return keys;
}

crypto::PKey KeyForSerial(const providers::Merchant& m, const V3Keys& keys, const std::string& serial,
                          const CertificateFetcher& fetch, std::string& why) {
    if (serial.empty()) {
        why = "Wechatpay-Serial missing";
        return nullptr;
    }
    if (keys.wechatpay_public && serial == keys.public_key_id) return keys.wechatpay_public;
    if (!keys.platform_certificates) {
        why = "unknown Wechatpay-Serial " + serial + " (merchant " + m.id + " has public key " +
              keys.public_key_id + " only)";
        return nullptr;
    }
    // Certificate serials are hex, written in either case in WeChat's samples.
    const std::string wanted = Upper(serial);
    CertCache& cc = Certs();
    std::optional<std::chrono::steady_clock::time_point> before;
    {
        std::lock_guard<std::mutex> lock(cc.mu);
        auto& mine = cc.keys[m.id];
        if (auto it = mine.find(wanted); it != mine.end()) return it->second;
        if (!fetch) {
            why = "unknown Wechatpay-Serial " + serial + " (not among the certificates held for merchant " +
                  m.id + ")";
            return nullptr;
        }
        auto last = cc.fetched.find(m.id);
        if (last != cc.fetched.end()) {
            if (std::chrono::steady_clock::now() - last->second < kMinRefreshInterval) {
                why = "unknown Wechatpay-Serial " + serial + " (certificates refreshed moments ago)";
                return nullptr;
            }
            before = last->second;
        }
        cc.fetched[m.id] = std::chrono::steady_clock::now();
    }
    // The fetch is a network call: never under the lock.
    std::map<std::string, std::string> pems;
    std::string error;
    const FetchOutcome got = fetch(m, keys, pems, error);
    if (got == FetchOutcome::kNotTried) {
        // Nothing was looked at: the next message may still try.
        std::lock_guard<std::mutex> lock(cc.mu);
        if (before)
            cc.fetched[m.id] = *before;
        else
            cc.fetched.erase(m.id);
    }
    // Whatever was found is kept, also without the serial asked for: a forged message that made
    // this worker read the shared copy leaves it holding the real certificates.
    std::map<std::string, crypto::PKey> fresh;
    for (const auto& [sn, pem] : pems) {
        std::string e;
        if (crypto::PKey k = crypto::PublicKeyFromPem(pem, e)) fresh[Upper(sn)] = k;
    }
    std::lock_guard<std::mutex> lock(cc.mu);
    auto& mine = cc.keys[m.id];
    for (auto& [sn, k] : fresh) mine[sn] = k;
    if (auto it = mine.find(wanted); it != mine.end()) return it->second;
    why = got == FetchOutcome::kGot
              ? "unknown Wechatpay-Serial " + serial + ", also after refreshing the platform certificates"
              : "unknown Wechatpay-Serial " + serial + "; refreshing the platform certificates: " + error;
    return nullptr;
}

std::string CertificatesJson(const std::map<std::string, std::string>& pem_by_serial) {
    std::string out = "{";
    for (const auto& [serial, pem] : pem_by_serial) {
        if (out.size() > 1) out += ',';
        out += http::JsonString(serial) + ":" + http::JsonString(pem);
    }
    return out + "}";
}

bool CertificatesFromJson(const std::string& json, std::map<std::string, std::string>& pem_by_serial) {
    rapidjson::Document d;
    if (!http::ParseJson(json, d).empty() || !d.IsObject()) return false;
    std::map<std::string, std::string> out;
    for (const auto& member : d.GetObject()) {
        if (!member.value.IsString()) return false;
        out[member.name.GetString()] = member.value.GetString();
    }
    pem_by_serial = std::move(out);
    return true;
}

FetchOutcome WxPayV3::Certificates(const providers::Merchant& m, const V3Keys& keys,
                                   const std::string& serial,
                                   std::map<std::string, std::string>& pem_by_serial, std::string& error,
                                   providers::KeyFetches* fetches) const {
    // Every worker keeps its own keys; this copy spares each of them its own gateway call after
    // one of them has made it.
    // Keyed by the merchant's account and APIv3 key too: a merchant id pointed at another WeChat
    // account must not inherit the old account's certificates.
    const std::string shared = "wx3-certs/" + m.id + "/" +
                               crypto::HexLower(crypto::Sha256(m.mch_id + '\n' + m.api_key)).substr(0, 16);
    const std::string wanted = Upper(serial);
    std::map<std::string, std::string> copy;
    if (cache_) {
        if (std::optional<std::string> v = cache_->Get(shared); !v || !CertificatesFromJson(*v, copy))
            copy.clear();
        for (const auto& [sn, pem] : copy) {
            if (Upper(sn) != wanted) continue;
            pem_by_serial = std::move(copy);
            return FetchOutcome::kGot;
        }
    }
    // Below, the copy is still handed back: its certificates are real ones, only not this serial's.
    if (fetches) {
        // No call made: the worker's own pace is not spent, so the next message reads the
        // shared copy again (another worker's fetch may be in it by then).
        if (fetches->cached_only || fetches->gateway_calls <= 0) {
            error = "not fetched: this notification's one certificate fetch is spent";
            pem_by_serial = std::move(copy);
            return FetchOutcome::kNotTried;
        }
        // One worker of all per merchant in the interval: the others read its shared copy. A
        // lost claim spends this worker's pace (kFailed) all the same: otherwise every replay of a
        // real ciphertext under a made-up serial costs each worker a read and a claim attempt,
        // where now it costs two statements per merchant per worker every interval. The price: a
        // real notice under a new serial that lands here is refused for up to the interval, and
        // WeChat resends it 15 s later.
        if (cache_ && !cache_->Claim(shared + "/fetching", kMinRefreshInterval.count())) {
            error = "another worker is refreshing them";
            pem_by_serial = std::move(copy);
            return FetchOutcome::kFailed;
        }
        --fetches->gateway_calls;
    }
    std::map<std::string, std::string> fetched;
    if (!FetchCertificates(m, keys, fetched, error)) {
        pem_by_serial = std::move(copy);
        return FetchOutcome::kFailed;
    }
    // A day: WeChat overlaps an old and a new certificate for much longer than that.
    if (cache_) cache_->Put(shared, CertificatesJson(fetched), 86400);
    pem_by_serial = std::move(fetched);
    return FetchOutcome::kGot;
}

void ClearPlatformCertificates() {
    CertCache& cc = Certs();
    std::lock_guard<std::mutex> lock(cc.mu);
    cc.keys.clear();
    cc.fetched.clear();
}

}  // namespace orderpay::wxpay

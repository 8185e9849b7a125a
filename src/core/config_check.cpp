// The config file's keys and their rules (README "Configuration"), checked before a program starts.
#include "orderpay/core/config_check.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace orderpay {

namespace {

struct WholeKey {
    const char* key;
    std::int64_t fallback;  // only for GetWhole's signature: an unset key is always fine
    std::int64_t min;
    std::int64_t max;
};

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kHourMs = 3600LL * 1000;
constexpr std::int64_t kTenMinutesMs = 600LL * 1000;

// Ranges wide enough for any real shop, narrow enough that no reader truncates or overflows them
// (an int of ms, a PostgreSQL interval, curl's long). workers, db.* and http.breaker_* are checked
// by their own readers too, with the same ranges.
constexpr std::array kWholeKeys = {
    WholeKey{"workers", 8, 1, 256},
    WholeKey{"backlog", 256, 1, 65535},
    WholeKey{"drain_timeout_ms", 10000, 0, kHourMs},
    WholeKey{"max_body_bytes", 65536, 1, 64LL << 20},
    WholeKey{"query_min_interval_ms", 5000, 0, kDayMs},
    WholeKey{"buy.resend_after_ms", 60000, 0, kDayMs},
    WholeKey{"http.connect_timeout_ms", 3000, 1, kTenMinutesMs},
    WholeKey{"http.timeout_ms", 10000, 1, kTenMinutesMs},
    WholeKey{"http.breaker_timeouts", 3, 0, 1000},
    WholeKey{"http.breaker_open_ms", 10000, 1, kHourMs},
    WholeKey{"db.lock_timeout_ms", 2000, 0, kHourMs},
    WholeKey{"db.statement_timeout_ms", 10000, 0, kHourMs},
    WholeKey{"db.migrate_lock_timeout_ms", 1000, 0, kHourMs},
    WholeKey{"db.migrate_give_up_s", 300, 0, 86400},
    WholeKey{"scan.max_waiting", 0, 0, 256},
    WholeKey{"wxpay.scan_poll_ms", 3000, 1, 60000},
    WholeKey{"wxpay.scan_poll_tries", 10, 0, 100},
    WholeKey{"wxpay.reverse_tries", 3, 1, 100},
    WholeKey{"alipay.scan_poll_ms", 5000, 1, 60000},
    WholeKey{"alipay.scan_poll_tries", 5, 0, 100},
    WholeKey{"alipay.cancel_tries", 3, 1, 100},
    WholeKey{"notify.keep_rejected_days", 7, 0, 3660},
    WholeKey{"notify.keep_days", 0, 0, 3660},
    WholeKey{"ticket.keep_ended_days", 7, 0, 3660},
    WholeKey{"paysim.workers", 4, 1, 256},
    WholeKey{"paysim.notify_connect_timeout_ms", 2000, 1, kTenMinutesMs},
    WholeKey{"paysim.notify_timeout_ms", 10000, 1, kTenMinutesMs},
};

// Keys holding text (names, paths, host lists): any value is theirs to mean.
constexpr std::array kTextKeys = {
    "db",
    "listen",
    "log_file",
    "log_format",
    "notify_base_url",
    "tls.ca_file",
    "wxpay.gateway",
    "alipay.gateway",
    "paypal.gateway",
    "paypal.cert_hosts",
    "paypal.ca_file",
    "paypal.cert_cn_prefix",
    "paypal.cert_cn_suffix",
    "paysim.listen",
    "paysim.paypal_cert_base",
    "paysim.paypal_sign_key_file",
    "paysim.paypal_web_base",
};

// An http(s) URL with a host and nothing a header or a log line could be split at: what a
// provider is called at, or told to call back.
bool HttpUrl(const std::string& v) {
    std::size_t rest = 0;
    if (v.rfind("https://", 0) == 0) {
        rest = 8;
    } else if (v.rfind("http://", 0) == 0) {
        rest = 7;
    } else {
        return false;
    }
    if (rest >= v.size() || v[rest] == '/' || v[rest] == ':' || v[rest] == '?' || v[rest] == '#')
        return false;
    return std::none_of(v.begin(), v.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

// A name as a warning may show it: printable, cut short.
std::string Shown(const std::string& name) {
    std::string shown;
    for (unsigned char c : name.substr(0, 64)) shown += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
    return shown;
}

// The error about `key`, after where its value was set: an operator who reads "workers must be
// ... not '300'" while the file says 8 is told ORDERPAY_WORKERS set it (review s28-newuser).
std::string At(const Config& cfg, const std::string& key, const std::string& error) {
    const std::string origin = cfg.Origin(key);
    return origin.empty() ? error : origin + ": " + error;
}

std::string CheckUrl(const Config& cfg, const char* key, bool required) {
    const std::string v = cfg.Get(key);
    if (v.empty())
        return required ? std::string(key) + " must be set: the public base URL providers call back" : "";
    if (HttpUrl(v)) return {};
    // The value is not echoed: a URL may carry credentials.
    return At(cfg, key,
              std::string(key) +
                  " must be an http:// or https:// URL with a host, without spaces or control characters");
}

}  // namespace

std::string CheckConfig(const Config& cfg, ConfigUser user) {
    std::string error;
    for (const WholeKey& k : kWholeKeys)
        if (!cfg.GetWhole(k.key, k.fallback, k.min, k.max, error)) return At(cfg, k.key, error);
    // Providers resend for up to three days, and PayPal's event ids dedupe against the rows kept.
    if (const std::int64_t d = cfg.GetInt("notify.keep_days", 0); d > 0 && d < 7)
        return At(cfg, "notify.keep_days",
                  "notify.keep_days must be 0 (keep every decided notification) or at least 7, not " +
                      std::to_string(d));
    if (const std::string f = cfg.Get("log_format", "text"); f != "text" && f != "json")
        return At(cfg, "log_format", "log_format must be text or json, not '" + f + "'");
    if (std::string e = CheckUrl(cfg, "notify_base_url", user == ConfigUser::kDaemon); !e.empty()) return e;
    for (const char* key : {"wxpay.gateway", "alipay.gateway", "paypal.gateway"})
        if (std::string e = CheckUrl(cfg, key, false); !e.empty()) return e;
    return {};
}

std::vector<std::string> KnownConfigKeys() {
    std::vector<std::string> keys;
    for (const WholeKey& k : kWholeKeys) keys.emplace_back(k.key);
    for (const char* k : kTextKeys) keys.emplace_back(k);
    return keys;
}

std::string UnknownKeysWarning(const Config& cfg) {
    const std::vector<std::string> known = KnownConfigKeys();
    std::string out;
    for (const std::string& key : cfg.Keys()) {
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        out += (out.empty() ? "unknown config keys, ignored (keys are lower case, see README): '" : "', '") +
               Shown(key);
    }
    if (!out.empty()) out += "'";
    for (const std::string& r : cfg.Repeats()) out += (out.empty() ? "" : "; ") + r;
    if (std::string env = UnknownEnvWarning(environ); !env.empty()) out += (out.empty() ? "" : "; ") + env;
    return out;
}

std::string UnknownEnvWarning(const char* const* env) {
    if (!env) return {};
    // Names the programs, deploy/stack.sh (and its stack.env) and the tests give other meanings.
    constexpr std::array<std::string_view, 7> kOtherUses = {
        "ORDERPAY_CONFIG", "ORDERPAY_VAR",   "ORDERPAY_BIN",   "ORDERPAY_URL",
        "ORDERPAY_API",    "ORDERPAY_PGBIN", "ORDERPAY_SHARED"};
    std::vector<std::string> overrides;
    for (const std::string& key : KnownConfigKeys()) overrides.push_back(Config::EnvName(key));
    std::string out;
    for (; *env; ++env) {
        const std::string_view entry(*env);
        const std::string name(entry.substr(0, entry.find('=')));
        if (name.rfind("ORDERPAY_", 0) != 0) continue;
        if (std::find(kOtherUses.begin(), kOtherUses.end(), name) != kOtherUses.end()) continue;
        if (std::find(overrides.begin(), overrides.end(), name) != overrides.end()) continue;
        out += (out.empty() ? "unknown ORDERPAY_* environment variables, ignored (ORDERPAY_ and the key in "
                              "upper case, '.' as '_', see README): '"
                            : "', '") +
               Shown(name);
    }
    if (!out.empty()) out += "'";
    return out;
}

}  // namespace orderpay

// Reads the key = value config file and applies ORDERPAY_* environment overrides.
#include "orderpay/core/config.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace orderpay {

namespace {

std::string Trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

}  // namespace

// ORDERPAY_WXPAY_GATEWAY -> wxpay_gateway; matched against keys with '.' folded to '_'.
std::string Config::EnvName(const std::string& key) {
    std::string out = "ORDERPAY_";
    for (char c : key) out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
    return out;
}

std::string Config::DefaultPath() {
    const char* p = std::getenv("ORDERPAY_CONFIG");
    return (p && *p) ? p : "/etc/orderpay/orderpay.conf";
}

std::optional<Config> Config::Load(const std::string& path, std::string& error) {
    Config cfg;
    cfg.path_ = path;
    std::ifstream in(path);
    // A directory opens as a stream that reads nothing: the program ran on every default.
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec)) {
        error = "cannot read config file " + path;
        return std::nullopt;
    }
    std::string line;
    int lineno = 0;
    std::map<std::string, int> set_on;  // the line each key is set on
    while (std::getline(in, line)) {
        ++lineno;
        std::string t = Trim(line);
        if (t.empty() || t[0] == '#') continue;
        auto eq = t.find('=');
        if (eq == std::string::npos) {
            error = path + ":" + std::to_string(lineno) + ": expected key = value";
            return std::nullopt;
        }
        // A key set twice (one edit appended, the old line left above) is named in a warning: the
        // last line wins, as it always has. Refusing the file would stop orderpayd from starting
        // again after an upgrade on a config that served until then (review s26-diff #8).
        const std::string key = Trim(t.substr(0, eq));
        if (auto [it, fresh] = set_on.emplace(key, lineno); !fresh) {
            cfg.repeats_.push_back(path + ":" + std::to_string(lineno) + ": " + key +
                                   " is set twice, on lines " + std::to_string(it->second) + " and " +
                                   std::to_string(lineno) + ": line " + std::to_string(lineno) +
                                   "'s value is used");
            it->second = lineno;
        }
        cfg.values_[key] = Trim(t.substr(eq + 1));
    }
    cfg.lines_ = std::move(set_on);
    if (in.bad()) {
        error = "cannot read config file " + path;
        return std::nullopt;
    }
    return cfg;
}

// The environment wins over the file so one config file can serve several stacks and tests.
std::string Config::Get(const std::string& key, const std::string& fallback) const {
    if (const char* v = std::getenv(EnvName(key).c_str()); v && *v) return v;
    auto it = values_.find(key);
    return it == values_.end() || it->second.empty() ? fallback : it->second;
}

// As Get decides: a variable set and not empty wins over the file.
std::string Config::Origin(const std::string& key) const {
    const std::string env = EnvName(key);
    if (const char* v = std::getenv(env.c_str()); v && *v) return env + " (environment)";
    auto it = lines_.find(key);
    return it == lines_.end() ? "" : path_ + ":" + std::to_string(it->second);
}

std::int64_t Config::GetInt(const std::string& key, std::int64_t fallback) const {
    std::string text = Get(key);
    if (text.empty()) return fallback;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    return (end && *end == '\0') ? v : fallback;
}

std::vector<std::string> Config::Keys() const {
    std::vector<std::string> keys;
    for (const auto& [k, v] : values_) keys.push_back(k);
    return keys;
}

std::optional<std::int64_t> Config::GetWhole(const std::string& key, std::int64_t fallback, std::int64_t min,
                                             std::int64_t max, std::string& error) const {
    const std::string text = Get(key);
    if (text.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    // strtoll skips leading spaces and takes a sign; the value must be digits alone.
    if (!std::isdigit(static_cast<unsigned char>(text[0])) || *end || errno || v < min || v > max) {
        error = key + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                ", not '" + text + "'";
        return std::nullopt;
    }
    return v;
}

}  // namespace orderpay

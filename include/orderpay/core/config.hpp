// The one config file (key = value lines) with environment overrides, parsed once at startup.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace orderpay {

/// The `db` key's default for every program (orderpayd, orderpay, paysim): the stack's database.
inline constexpr const char* kDefaultDb = "dbname=orderpay";

class Config {
  public:
    /// Reads `path` ("key = value" lines, '#' comments), then applies environment overrides:
    /// ORDERPAY_<KEY>, upper-cased with "." turned into "_" (e.g. ORDERPAY_WXPAY_GATEWAY).
    static std::optional<Config> Load(const std::string& path, std::string& error);

    /// $ORDERPAY_CONFIG, else /etc/orderpay/orderpay.conf.
    static std::string DefaultPath();

    /// The environment variable that overrides `key`: "wxpay.gateway" -> ORDERPAY_WXPAY_GATEWAY.
    static std::string EnvName(const std::string& key);

    std::string Get(const std::string& key, const std::string& fallback = "") const;
    std::int64_t GetInt(const std::string& key, std::int64_t fallback) const;
    /// `key` as a whole number in [min, max] (`fallback` when unset). Anything else ("8x", "-1",
    /// "1e3", past max) is nullopt with `error` naming the key, for a program to refuse to start.
    std::optional<std::int64_t> GetWhole(const std::string& key, std::int64_t fallback, std::int64_t min,
                                         std::int64_t max, std::string& error) const;
    bool Has(const std::string& key) const { return values_.count(key) != 0; }
    /// The keys the file names (not the environment's).
    std::vector<std::string> Keys() const;
    const std::string& path() const { return path_; }
    /// Where the value Get(key) returns comes from, for an error to name: "ORDERPAY_WORKERS
    /// (environment)" when the environment overrides it, "FILE:LINE" when the file sets it, ""
    /// when neither does (the default).
    std::string Origin(const std::string& key) const;
    /// Each key the file sets more than once (the last line's value is used), for a warning.
    const std::vector<std::string>& Repeats() const { return repeats_; }

  private:
    std::map<std::string, std::string> values_;
    std::map<std::string, int> lines_;  // the line each key's value was read from (the last one)
    std::vector<std::string> repeats_;
    std::string path_;
};

}  // namespace orderpay

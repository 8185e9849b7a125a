// The one config file (key = value lines) with environment overrides, parsed once at startup.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace orderpay {

class Config {
  public:
    /// Reads `path` ("key = value" lines, '#' comments), then applies environment overrides:
    /// ORDERPAY_<KEY>, upper-cased with "." turned into "_" (e.g. ORDERPAY_WXPAY_GATEWAY).
    static std::optional<Config> Load(const std::string& path, std::string& error);

    /// $ORDERPAY_CONFIG, else /etc/orderpay/orderpay.conf.
    static std::string DefaultPath();

    std::string Get(const std::string& key, const std::string& fallback = "") const;
    std::int64_t GetInt(const std::string& key, std::int64_t fallback) const;
    bool Has(const std::string& key) const { return values_.count(key) != 0; }
    const std::string& path() const { return path_; }

  private:
    std::map<std::string, std::string> values_;
    std::string path_;
};

}  // namespace orderpay

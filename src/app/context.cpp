// Builds the settings from config and owns the provider clients of one worker.
#include "orderpay/app/context.hpp"

namespace orderpay::app {

Settings Settings::From(const Config& cfg) {
    Settings s;
    s.db = cfg.Get("db", "dbname=orderpay");
    s.notify_base_url = cfg.Get("notify_base_url", "http://127.0.0.1");
    while (!s.notify_base_url.empty() && s.notify_base_url.back() == '/') s.notify_base_url.pop_back();
    s.query_min_interval_ms = cfg.GetInt("query_min_interval_ms", 5000);
    s.max_body = static_cast<std::size_t>(cfg.GetInt("max_body_bytes", 64 * 1024));
    s.wx.gateway = cfg.Get("wxpay.gateway", "https://api.mch.weixin.qq.com");
    while (!s.wx.gateway.empty() && s.wx.gateway.back() == '/') s.wx.gateway.pop_back();
    s.wx.timeouts.connect_ms = cfg.GetInt("http.connect_timeout_ms", 3000);
    s.wx.timeouts.total_ms = cfg.GetInt("http.timeout_ms", 10000);
    s.wx.scan_poll_ms = static_cast<int>(cfg.GetInt("wxpay.scan_poll_ms", 3000));
    s.wx.scan_poll_tries = static_cast<int>(cfg.GetInt("wxpay.scan_poll_tries", 10));
    s.wx.reverse_tries = static_cast<int>(cfg.GetInt("wxpay.reverse_tries", 3));
    s.zfb.gateway = cfg.Get("alipay.gateway", "https://openapi.alipay.com/gateway.do");
    s.zfb.timeouts = s.wx.timeouts;
    s.zfb.scan_poll_ms = static_cast<int>(cfg.GetInt("alipay.scan_poll_ms", 5000));
    s.zfb.scan_poll_tries = static_cast<int>(cfg.GetInt("alipay.scan_poll_tries", 5));
    s.zfb.cancel_tries = static_cast<int>(cfg.GetInt("alipay.cancel_tries", 3));
    return s;
}

Context::Context(Settings s, db::Connection& db)
    : settings_(std::move(s)),
      db_(db),
      wx_(std::make_unique<wxpay::WxPayV2>(settings_.wx)),
      zfb_(std::make_unique<alipay::AlipayClient>(settings_.zfb)) {}

providers::Provider* Context::ProviderFor(const std::string& prefix) {
    if (prefix == "wx") return wx_.get();
    if (prefix == "zfb") return zfb_.get();
    return nullptr;
}

}  // namespace orderpay::app

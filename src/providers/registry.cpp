// The registry tables. A provider joins by one line in kProviders and its pay types in
// kPayTypes; everything else (routes, CLI, reconcile) finds it here.
#include "orderpay/providers/registry.hpp"

#include "orderpay/providers/alipay/client.hpp"
#include "orderpay/providers/paypal/client.hpp"
#include "orderpay/providers/wxpay/client.hpp"

namespace orderpay::providers {

namespace {

constexpr ProviderRow kProviders[] = {
    {"wx", &wxpay::MakeProvider},
    {"zfb", &alipay::MakeProvider},
    {"paypal", &paypal::MakeProvider},
};

// Code lifetimes: a WeChat Pay code_url or prepay_id (v2 and v3) is valid for 2 hours whatever
// its time_expire ("code_url有效期为2小时", "只有两小时的有效期"); so is an Alipay precreate
// qr_code ("当前预下单请求生成的二维码码串，有效时间2小时", the qr_code field of
// AlipayTradePrecreateResponse in alipay/alipay-sdk-java-all; review s33-113 F1: it was taken to
// live as long as the time_expire sent); PayPal's approval window defaults to 3 hours
// (PROTOCOLS.md, create order); a scan shows no code.
constexpr std::chrono::minutes kWxCodeLife{120};
constexpr std::chrono::minutes kZfbCodeLife{120};
constexpr std::chrono::minutes kPaypalLinkLife{180};
constexpr PayTypeRow kPayTypes[] = {
    {"wx.qrcode", "wx", PayKind::kQrcode, kWxCodeLife},
    {"wx.jsapi", "wx", PayKind::kJsapi, kWxCodeLife},
    {"wx.scan", "wx", PayKind::kScan},
    {"zfb.qrcode", "zfb", PayKind::kQrcode, kZfbCodeLife},
    {"zfb.scan", "zfb", PayKind::kScan},
    {"paypal", "paypal", PayKind::kLink, kPaypalLinkLife},
};

}  // namespace

std::span<const ProviderRow> ProviderRows() {
    return kProviders;
}
std::span<const PayTypeRow> PayTypeRows() {
    return kPayTypes;
}

const PayTypeRow* FindPayType(std::string_view name) {
    for (const PayTypeRow& t : kPayTypes)
        if (t.name == name) return &t;
    return nullptr;
}

bool CodeOutlived(std::string_view pay_tp, std::int64_t age_ms) {
    const PayTypeRow* t = FindPayType(pay_tp);
    if (!t || t->code_life.count() <= 0) return false;
    return std::chrono::milliseconds(age_ms) >= t->code_life - kCodeLifeMargin;
}

Providers::Providers(const Config& cfg) {
    // Every provider call trusts these roots (the dev stack's own CA in front of paysim).
    SetDefaultCaFile(cfg.Get("tls.ca_file", ""));
    breaker::SetPolicy(BreakerPolicyFrom(cfg));
    for (const ProviderRow& row : kProviders) all_.push_back(row.make(cfg));
}

Provider* Providers::Find(std::string_view id) const {
    for (const auto& p : all_)
        if (p->Id() == id) return p.get();
    return nullptr;
}

Timeouts TimeoutsFrom(const Config& cfg) {
    return Timeouts{cfg.GetInt("http.connect_timeout_ms", 3000), cfg.GetInt("http.timeout_ms", 10000)};
}

breaker::Policy BreakerPolicyFrom(const Config& cfg) {
    return breaker::Policy{static_cast<int>(cfg.GetInt("http.breaker_timeouts", 3)),
                           cfg.GetInt("http.breaker_open_ms", 10000)};
}

}  // namespace orderpay::providers
